//! One REST implementation for every served resource, driven by the registry in rkube-api.

mod apply;
mod body;
mod convert;
pub(crate) mod create;
mod delete;
mod get;
mod list;
mod list_options;
mod namespace;
mod output;
mod patch;
pub mod proxy;
pub(crate) mod splice;
mod update;
mod update_service;
mod watch;
mod write_options;

use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use rkube_api::ResourceDef;
use rkube_store::{Store, StoreExt};
use serde_json::Value;

pub use self::body::{decode_body, MAX_BODY};
pub(crate) use self::output::{partial_object, respond};
use crate::{
    object::from_stored,
    params::Params,
    request::{Output, ResourceRequest, Verb},
    status::{ApiError, ApiResult},
    watchcache::WatchCache,
};

/// Shared state of the REST layer.
pub struct Api {
    pub store: Arc<dyn Store>,
    pub watch_cache: Arc<WatchCache>,
    pub ranges: crate::alloc::Ranges,
    /// What creates know of their namespaces (checked again at commit).
    pub open_namespaces: namespace::OpenNamespaces,
    /// Issues and checks ServiceAccount tokens; without it serviceaccounts/token answers 503.
    pub tokens: Option<Arc<crate::serviceaccount::Tokens>>,
    /// Pod creates go through the ServiceAccount admission plugin.
    pub service_account_admission: bool,
    /// Decides what each caller may do; `None` allows everything (as AlwaysAllow).
    pub authorizer: Option<crate::authz::Authorizer>,
}

impl Api {
    pub fn new(store: Arc<dyn Store>, ranges: crate::alloc::Ranges) -> Self {
        // LISTs from memory over etcd (a round trip and etcd's work saved); the embedded
        // store reads in-process, so a second copy of every object is not worth it there.
        let list_cache = store.backend() == "etcd";
        Self::with_list_cache(store, ranges, list_cache)
    }

    /// As [`Api::new`], saying whether LISTs may come from the watch cache.
    pub fn with_list_cache(
        store: Arc<dyn Store>,
        ranges: crate::alloc::Ranges,
        list_cache: bool,
    ) -> Self {
        Self {
            watch_cache: Arc::new(WatchCache::new(store.clone(), list_cache)),
            store,
            ranges,
            open_namespaces: Default::default(),
            tokens: None,
            service_account_admission: false,
            authorizer: None,
        }
    }

    /// Reads one object (404 when absent).
    pub async fn read(
        &self,
        def: &'static ResourceDef,
        ns: Option<&str>,
        name: &str,
    ) -> ApiResult<(Value, i64)> {
        let key = def.key(ns, name);
        match self.store.get(key.as_bytes()).await? {
            Some(kv) => Ok((
                convert::from_storage(def, from_stored(&kv)?),
                kv.mod_revision,
            )),
            None => Err(ApiError::not_found(def, name)),
        }
    }
}

/// Everything about one call.
pub struct Call<'a> {
    pub api: &'a Api,
    /// Who asks (reviews answer about them).
    pub user: Option<&'a crate::authn::Identity>,
    /// From an in-process component, which nothing authorizes (see authz/).
    pub trusted: bool,
    pub req: ResourceRequest,
    pub params: Params,
    pub output: Output,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Call<'_> {
    pub fn def(&self) -> &'static ResourceDef {
        self.req.def
    }

    pub fn ns(&self) -> Option<&str> {
        self.req.namespace.as_deref()
    }

    /// The name in the URL (present for every verb that needs one; the router guarantees it).
    pub fn name(&self) -> &str {
        self.req.name.as_deref().unwrap_or_default()
    }
}

pub async fn handle(call: Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    if def.namespaced
        && call.req.namespace.is_none()
        && !matches!(call.req.verb, Verb::List | Verb::Watch)
    {
        return Err(ApiError::path_not_found());
    }
    let verb = call.req.verb;
    let allowed = match &call.req.subresource {
        Some(s) => def
            .subresource(s)
            .is_some_and(|sub| sub.verbs.contains(&verb.as_str())),
        None => def.verbs.contains(&verb.as_str()),
    };
    if !allowed {
        return Err(ApiError::method_not_supported(def.kind, verb.as_str()));
    }
    write_options::validate(&call.params, verb)?;
    if !def.stored() {
        // Reviews: answered, never stored (their only verb is create).
        return crate::reviews::create(&call).await;
    }
    // Field validation warnings the handlers record become `Warning` headers (output.rs).
    output::with_recorded_warnings(async {
        match verb {
            Verb::Get => get::get(&call).await,
            Verb::List => list::list(&call).await,
            Verb::Watch => watch::watch(&call).await,
            Verb::Create => create::create(&call).await,
            Verb::Update => update::update(&call).await,
            Verb::Patch => patch::patch(&call).await,
            Verb::Delete => delete::delete(&call).await,
            Verb::DeleteCollection => delete::delete_collection(&call).await,
        }
    })
    .await
}
