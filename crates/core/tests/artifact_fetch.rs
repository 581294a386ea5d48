//! `fetch_and_unpack` against a real HTTP server on loopback (axum), with flaky, wrong,
//! oversized and hostile artifacts.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use driftless_core::artifact::{
    Digest, FetchError, FetchOptions, Limits, UnpackError, fetch_and_unpack, fetch_verified,
    pack_to_writer,
};

/// What `/<name>` serves: the body, how many requests fail first, and with which status.
type Routes = HashMap<String, (Vec<u8>, usize, StatusCode)>;

/// Serves `/<name>`: the first `failures` requests of a name answer with the given status,
/// later ones with the body. Counts requests per name.
#[derive(Clone, Default)]
struct Server {
    bodies: Arc<Routes>,
    hits: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn hits(&self, name: &str) -> usize {
        self.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

async fn handler(
    State(server): State<Server>,
    UrlPath(name): UrlPath<String>,
) -> Result<Vec<u8>, StatusCode> {
    let hit = {
        let mut hits = server.hits.lock().unwrap();
        let n = hits.entry(name.clone()).or_default();
        *n += 1;
        *n
    };
    let Some((body, failures, status)) = server.bodies.get(&name) else {
        return Err(StatusCode::NOT_FOUND);
    };
    if hit <= *failures {
        return Err(*status);
    }
    Ok(body.clone())
}

async fn start(bodies: Routes) -> (SocketAddr, Server) {
    let server = Server {
        bodies: Arc::new(bodies),
        ..Server::default()
    };
    let app = Router::new()
        .route("/{name}", get(handler))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, server)
}

fn artifact() -> (Vec<u8>, Digest) {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("deploy")).unwrap();
    std::fs::write(src.path().join("deploy/app.yaml"), b"kind: ConfigMap\n").unwrap();
    std::fs::write(
        src.path().join("kustomization.yaml"),
        b"resources: [deploy/app.yaml]\n",
    )
    .unwrap();
    let (bytes, packed) = pack_to_writer(src.path(), Vec::new(), |_, _| true).unwrap();
    (bytes, packed.digest)
}

fn quick() -> FetchOptions {
    FetchOptions {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..FetchOptions::default()
    }
}

#[tokio::test]
async fn retries_a_failing_first_request_then_unpacks() {
    let (bytes, digest) = artifact();
    let (addr, server) = start(HashMap::from([(
        "flaky.tar.gz".to_string(),
        (bytes.clone(), 1, StatusCode::SERVICE_UNAVAILABLE),
    )]))
    .await;
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("src");
    let url = format!("http://{addr}/flaky.tar.gz");
    let fetched = fetch_and_unpack(&reqwest::Client::new(), &url, &digest, &dest, &quick())
        .await
        .unwrap();
    assert_eq!(fetched.attempts, 2);
    assert_eq!(server.hits("flaky.tar.gz"), 2);
    assert_eq!(fetched.digest, digest);
    assert_eq!(fetched.size, bytes.len() as u64);
    assert_eq!(fetched.unpacked.files, 2);
    assert_eq!(
        std::fs::read(dest.join("deploy/app.yaml")).unwrap(),
        b"kind: ConfigMap\n"
    );
}

#[tokio::test]
async fn a_digest_mismatch_is_an_error_and_nothing_is_unpacked() {
    let (bytes, digest) = artifact();
    let (addr, _server) = start(HashMap::from([(
        "a.tar.gz".to_string(),
        (bytes, 0, StatusCode::OK),
    )]))
    .await;
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("src");
    let expected = Digest::of_bytes(b"what the source published");
    let url = format!("http://{addr}/a.tar.gz");
    let err = fetch_and_unpack(&reqwest::Client::new(), &url, &expected, &dest, &quick())
        .await
        .unwrap_err();
    match &err {
        FetchError::DigestMismatch {
            expected: e,
            actual,
            url: u,
        } => {
            assert_eq!((e, actual, u), (&expected, &digest, &url));
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&expected.to_string()) && msg.contains(&digest.to_string()),
        "{msg}"
    );
    assert!(
        !dest.exists(),
        "a mismatching artifact must never be unpacked"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried_and_server_errors_are_bounded() {
    let (addr, server) = start(HashMap::from([(
        "down.tar.gz".to_string(),
        (Vec::new(), usize::MAX, StatusCode::BAD_GATEWAY),
    )]))
    .await;
    let out = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let any = Digest::of_bytes(b"");
    let err = fetch_and_unpack(
        &client,
        &format!("http://{addr}/missing.tar.gz"),
        &any,
        &out.path().join("a"),
        &quick(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { attempts: 1, status, .. } if status == 404),
        "{err}"
    );
    assert_eq!(server.hits("missing.tar.gz"), 1);
    let err = fetch_and_unpack(
        &client,
        &format!("http://{addr}/down.tar.gz"),
        &any,
        &out.path().join("b"),
        &quick(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { attempts: 3, status, .. } if status == 502),
        "{err}"
    );
    assert_eq!(server.hits("down.tar.gz"), 3);
    assert!(err.to_string().contains("down.tar.gz"), "{err}");
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported() {
    // A port nobody listens on any more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let out = tempfile::tempdir().unwrap();
    let err = fetch_and_unpack(
        &reqwest::Client::new(),
        &format!("http://{addr}/a.tar.gz"),
        &Digest::of_bytes(b""),
        &out.path().join("a"),
        &quick(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, FetchError::Request { attempts: 3, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn oversized_downloads_are_refused_without_retry() {
    let (bytes, digest) = artifact();
    let (addr, server) = start(HashMap::from([(
        "big.tar.gz".to_string(),
        (bytes.clone(), 0, StatusCode::OK),
    )]))
    .await;
    let out = tempfile::tempdir().unwrap();
    let options = FetchOptions {
        max_download_bytes: bytes.len() as u64 - 1,
        ..quick()
    };
    let err = fetch_and_unpack(
        &reqwest::Client::new(),
        &format!("http://{addr}/big.tar.gz"),
        &digest,
        &out.path().join("a"),
        &options,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    assert_eq!(server.hits("big.tar.gz"), 1);
}

#[tokio::test]
async fn a_verified_archive_over_the_limits_is_still_refused_by_unpack() {
    // The digest proves the bytes are what the source published, not that they are safe.
    let (bytes, digest) = artifact();
    let (addr, _server) = start(HashMap::from([(
        "a.tar.gz".to_string(),
        (bytes, 0, StatusCode::OK),
    )]))
    .await;
    let out = tempfile::tempdir().unwrap();
    let options = FetchOptions {
        limits: Limits {
            max_entries: 1,
            ..Limits::default()
        },
        ..quick()
    };
    let dest = out.path().join("a");
    let err = fetch_and_unpack(
        &reqwest::Client::new(),
        &format!("http://{addr}/a.tar.gz"),
        &digest,
        &dest,
        &options,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Unpack {
                source: UnpackError::TooManyEntries { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(!dest.exists());
}

#[tokio::test]
async fn a_healthy_server_takes_one_attempt_per_fetch() {
    let (bytes, digest) = artifact();
    let (addr, server) = start(HashMap::from([(
        "a.tar.gz".to_string(),
        (bytes, 0, StatusCode::OK),
    )]))
    .await;
    let out = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/a.tar.gz");
    for name in ["x", "y"] {
        let f = fetch_and_unpack(&client, &url, &digest, &out.path().join(name), &quick())
            .await
            .unwrap();
        assert_eq!(f.attempts, 1);
        assert!(out.path().join(name).join("kustomization.yaml").is_file());
    }
    assert_eq!(server.hits("a.tar.gz"), 2);
}

#[tokio::test]
async fn fetch_verified_returns_the_checked_bytes_without_unpacking() {
    let (bytes, digest) = artifact();
    let (addr, _server) = start(HashMap::from([(
        "chart.tgz".to_string(),
        (bytes.clone(), 2, StatusCode::TOO_MANY_REQUESTS),
    )]))
    .await;
    let url = format!("http://{addr}/chart.tgz");
    let mut verified = fetch_verified(&reqwest::Client::new(), &url, &digest, &quick())
        .await
        .unwrap();
    assert_eq!((verified.attempts, verified.size), (3, bytes.len() as u64));
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut verified.file, &mut body).unwrap();
    assert_eq!(body, bytes);
    let err = fetch_verified(
        &reqwest::Client::new(),
        &url,
        &Digest::of_bytes(b"x"),
        &quick(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::DigestMismatch { .. }), "{err}");
}
