//! Resolving a kind to its REST resource, cached.
//!
//! Each kind is looked up once with a single group-version discovery request
//! (`kube::discovery::pinned_kind`) and remembered. Misses are never cached, so a kind served
//! by a CRD created a moment ago (by this apply or anyone else) resolves on the next lookup:
//! that is the "refresh when a CRD appears" without re-reading all of discovery.

use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind},
    discovery::{Scope, pinned_kind},
};
use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use super::ObjectRef;

/// A kind the API server serves, and whether its objects live in namespaces.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// The discovery cache; cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct Resolver {
    cache: Arc<RwLock<HashMap<GroupVersionKind, Resolved>>>,
}

/// A lookup that failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The API server does not serve this kind (yet).
    #[error("no matches for kind {kind:?} in version {api_version:?}")]
    UnknownKind { kind: String, api_version: String },
    #[error("discovery of {api_version}: {source}")]
    Discovery {
        api_version: String,
        #[source]
        source: kube::Error,
    },
}

impl Resolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// The resource of `obj`'s kind, from the cache or one discovery request.
    pub async fn resolve(
        &self,
        client: &Client,
        obj: &ObjectRef,
    ) -> Result<Resolved, ResolveError> {
        let gvk = obj.gvk();
        if let Some(hit) = self.cache.read().ok().and_then(|c| c.get(&gvk).cloned()) {
            return Ok(hit);
        }
        let unknown = || ResolveError::UnknownKind {
            kind: obj.kind.clone(),
            api_version: obj.api_version(),
        };
        match pinned_kind(client, &gvk).await {
            Ok((resource, caps)) => {
                let resolved = Resolved {
                    resource,
                    namespaced: caps.scope == Scope::Namespaced,
                };
                if let Ok(mut cache) = self.cache.write() {
                    cache.insert(gvk, resolved.clone());
                }
                Ok(resolved)
            }
            Err(kube::Error::Discovery(_)) => Err(unknown()),
            Err(kube::Error::Api(status)) if status.code == 404 => Err(unknown()),
            Err(source) => Err(ResolveError::Discovery {
                api_version: obj.api_version(),
                source,
            }),
        }
    }

    /// Forgets every cached kind (after a CRD was deleted or changed its versions).
    pub fn clear(&self) {
        if let Ok(mut cache) = self.cache.write() {
            cache.clear();
        }
    }

    /// The dynamic API for `obj` (namespaced in its namespace, or cluster-wide).
    ///
    /// A namespaced object without a namespace lands in `default`, as kubectl does.
    pub async fn api_for(
        &self,
        client: &Client,
        obj: &ObjectRef,
    ) -> Result<(Api<DynamicObject>, Resolved), ResolveError> {
        let resolved = self.resolve(client, obj).await?;
        let api = if resolved.namespaced {
            let ns = if obj.namespace.is_empty() {
                "default"
            } else {
                &obj.namespace
            };
            Api::namespaced_with(client.clone(), ns, &resolved.resource)
        } else {
            Api::all_with(client.clone(), &resolved.resource)
        };
        Ok((api, resolved))
    }
}
