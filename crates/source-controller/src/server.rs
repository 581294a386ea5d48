//! The artifact HTTP server on `--storage-addr`: `GET /<kind>/<ns>/<name>/<file>` serves files
//! under the storage root and nothing else (see [`Storage::resolve`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::storage::Storage;

/// The router: one GET route; anything outside the root is a 404.
pub fn router(storage: Arc<Storage>) -> Router {
    Router::new()
        .route("/{*path}", get(serve))
        .with_state(storage)
}

async fn serve(State(storage): State<Arc<Storage>>, Path(path): Path<String>) -> Response {
    let Some(file) = storage.resolve(&path) else {
        return (StatusCode::NOT_FOUND, "artifact not found\n").into_response();
    };
    match tokio::fs::File::open(&file).await {
        Ok(f) => {
            let len = f.metadata().await.map(|m| m.len()).ok();
            let stream = tokio_util::io::ReaderStream::new(f);
            let mut resp = Response::new(Body::from_stream(stream));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/gzip"),
            );
            if let Some(len) = len {
                resp.headers_mut()
                    .insert(header::CONTENT_LENGTH, len.into());
            }
            resp
        }
        Err(_) => (StatusCode::NOT_FOUND, "artifact not found\n").into_response(),
    }
}

/// Serve `router` on `listener` until `shutdown` resolves.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    storage: Arc<Storage>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(storage))
        .with_graceful_shutdown(shutdown)
        .await
}
