//! rkube-apiserver: the Kubernetes REST API over rkube-store. HTTPS (rustls, HTTP/1.1 and
//! HTTP/2), client-certificate authentication, discovery, and one generic REST implementation
//! for every resource in rkube-api's registry: get, list, watch, create, update, delete,
//! deletecollection, with Kubernetes' semantics and Status errors.

mod admission;
mod alloc;
mod authn;
mod authz;
mod bootstrap;
mod discovery;
mod health;
mod impersonation;
mod join;
mod loopback;
mod managed;
mod metrics;
mod object;
mod openapi;
mod params;
mod proxy;
mod request;
mod rest;
mod reviews;
mod serve;
mod serviceaccount;
mod status;
mod strategy;
#[cfg(test)]
mod testing;
mod tls;
mod watchcache;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Instant};

use axum::{
    body::Body,
    extract::{Request, State},
    http::header,
    response::{IntoResponse, Response},
    Router,
};
use rkube_store::Store;
use tracing::{debug, debug_span, warn, Instrument};

pub use authn::Identity;
pub use health::VersionInfo;
pub use join::JoinConfig;
pub use loopback::Loopback;
pub use status::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error("configuration: {0}")]
    Config(String),
    #[error("bootstrapping the cluster's objects: {0}")]
    Bootstrap(String),
}

/// What the API server needs to run.
pub struct Config {
    pub bind: SocketAddr,
    /// host:port clients reach this server at (discovery's serverAddressByClientCIDRs).
    pub advertise: String,
    pub ca_pem: String,
    pub serving_chain_pem: String,
    pub serving_key_pem: String,
    pub version: VersionInfo,
    /// Service ClusterIP range (IPv4 CIDR) and NodePort range.
    pub service_cidr: String,
    pub node_port_range: std::ops::RangeInclusive<u16>,
    /// The identity presented to kubelets for logs, exec, port-forward and nodes/proxy; without
    /// it those answer 503.
    pub kubelet_client: Option<KubeletClientCert>,
    /// Admits agents (`GET /cacerts`, `POST /v1-rkube/node-certs`); without it those are 404.
    pub join: Option<JoinConfig>,
    /// Signs and checks ServiceAccount tokens; without it serviceaccounts/token answers 503
    /// and bearer tokens are refused.
    pub service_accounts: Option<ServiceAccountConfig>,
}

/// ServiceAccount token issuing: the signing key (P-256 PKCS#8 PEM), the issuer (`iss`) and
/// the audiences the API server accepts (the first is the default of a TokenRequest).
#[derive(Clone)]
pub struct ServiceAccountConfig {
    pub key_pem: String,
    pub issuer: String,
    pub audiences: Vec<String>,
    /// Run the ServiceAccount admission plugin on pod creates (kube-api-access volumes).
    pub admission: bool,
}

/// A client certificate (PEM, signed by the cluster CA) and its key.
#[derive(Clone)]
pub struct KubeletClientCert {
    pub cert_pem: String,
    pub key_pem: String,
}

struct AppState {
    api: rest::Api,
    advertise: String,
    version: VersionInfo,
    kubelet: Option<proxy::kubelet::KubeletClient>,
    join: Option<JoinConfig>,
    metrics: metrics::Metrics,
}

/// A bound API server: the port is taken, objects bootstrapped; `serve` runs it.
pub struct ApiServer {
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
}

impl ApiServer {
    pub async fn bind(cfg: Config, store: Arc<dyn Store>) -> Result<Self, Error> {
        let tls = tls::server_config(&cfg.ca_pem, &cfg.serving_chain_pem, &cfg.serving_key_pem)?;
        let ranges = alloc::Ranges::parse(&cfg.service_cidr, cfg.node_port_range.clone())
            .map_err(Error::Config)?;
        let kubelet = cfg
            .kubelet_client
            .as_ref()
            .map(|c| proxy::kubelet::KubeletClient::new(&cfg.ca_pem, &c.cert_pem, &c.key_pem))
            .transpose()?;
        let listener = tokio::net::TcpListener::bind(cfg.bind)
            .await
            .map_err(|source| Error::Bind {
                addr: cfg.bind,
                source,
            })?;
        // After binding: the Service's targetPort is the port taken (`:0` in tests).
        let port = listener.local_addr().map_err(Error::Serve)?.port();
        let mut api = rest::Api::new(store, ranges);
        if let Some(sa) = &cfg.service_accounts {
            let tokens = serviceaccount::Tokens::new(&sa.key_pem, &sa.issuer, sa.audiences.clone())
                .map_err(|e| Error::Config(e.to_string()))?;
            api.tokens = Some(Arc::new(tokens));
            api.service_account_admission = sa.admission;
        }
        bootstrap::ensure(&api, port)
            .await
            .map_err(|e| Error::Bootstrap(e.to_string()))?;
        // Loaded before the first request, so no one is refused for want of the policy.
        let policy = authz::Policy::start(api.store.clone(), api.watch_cache.clone())
            .await
            .map_err(|e| Error::Bootstrap(format!("loading RBAC objects: {e}")))?;
        api.authorizer = Some(authz::Authorizer::new(policy));
        let state = Arc::new(AppState {
            api,
            advertise: cfg.advertise,
            version: cfg.version,
            kubelet,
            join: cfg.join,
            metrics: Default::default(),
        });
        let app = Router::new().fallback(dispatch).with_state(state);
        Ok(Self { listener, tls, app })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// An in-process transport to this server for `kube::Client::new`, authenticated as
    /// `user` in `groups`, sending `user_agent` (see [`Loopback`]); trusted, as the server's
    /// own components are: no authorization.
    pub fn loopback(&self, user: &str, groups: &[&str], user_agent: &str) -> Loopback {
        Loopback::new(self.app.clone(), user, groups, user_agent, true)
    }

    /// As [`loopback`](Self::loopback), but authorized as a remote client is.
    pub fn loopback_authorized(&self, user: &str, groups: &[&str], user_agent: &str) -> Loopback {
        Loopback::new(self.app.clone(), user, groups, user_agent, false)
    }

    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        serve::serve(self.listener, self.tls, self.app, shutdown)
            .await
            .map_err(Error::Serve)
    }
}

/// The tracing target of the per-request span and "served" line.
const REQUESTS: &str = "rkube_apiserver::requests";

async fn dispatch(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let identity = req
        .extensions()
        .get::<Option<Identity>>()
        .cloned()
        .flatten();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let trusted = req.extensions().get::<loopback::Trusted>().is_some();
    // A client certificate wins; without one, a bearer token may authenticate.
    let identity = match identity {
        Some(id) => Some(id),
        None => bearer(&state.api, req.headers()).await,
    };
    // Per-request logging is debug, target `rkube_apiserver::requests`
    // (`RUST_LOG=info,rkube_apiserver::requests=debug`), as kube-apiserver's httplog is at
    // -v=3: at info, formatting a line per request cost ~5% of the server's CPU under load.
    // Server errors are always logged.
    let span = debug_span!(
        target: REQUESTS,
        "request",
        %method,
        %path,
        user = identity.as_ref().map(|i| i.user.as_str()).unwrap_or("system:anonymous"),
    );
    async move {
        let mut labels = None;
        let resp = route(&state, identity, trusted, req, &mut labels)
            .await
            .unwrap_or_else(IntoResponse::into_response);
        let code = resp.status().as_u16();
        if let Some(labels) = labels {
            state.metrics.observe(labels, code, started.elapsed());
        }
        let ms = started.elapsed().as_millis() as u64;
        if code >= 500 {
            warn!(target: REQUESTS, %method, %path, code, ms, "served");
        } else {
            debug!(target: REQUESTS, code, ms, "served");
        }
        resp
    }
    .instrument(span)
    .await
}

/// Serves one request; `labels` is set, for /metrics, once it is known to be a resource request.
async fn route(
    state: &AppState,
    identity: Option<Identity>,
    trusted: bool,
    req: Request,
    labels: &mut Option<metrics::Labels>,
) -> Result<Response, ApiError> {
    let path = req.uri().path().to_string();
    // What upstream lets anyone read (system:public-info-viewer).
    if let Some(r) = health::serve(&state.api, &state.version, &path, req.uri().query()).await {
        return Ok(r);
    }
    // Joining agents have no client certificate yet: the token's secret authenticates them.
    if join::handles(&path) {
        return join::serve(state.join.as_ref(), req).await;
    }
    let Some(caller) = identity else {
        return Err(ApiError::unauthorized());
    };
    let authorizer = state.api.authorizer.as_ref().filter(|_| !trusted);
    let may = |who: &Identity, a: &authz::Attributes| match authorizer {
        Some(authz) => authz.check(who, a),
        None => Ok(()),
    };
    let identity = impersonation::apply(caller, req.headers(), may)?;
    // The privileged need no attributes: nothing is parsed for them.
    if authorizer.is_some_and(|a| !a.privileged(&identity)) {
        let attrs = authz::Attributes::of_request(req.method(), &path, req.uri().query());
        may(&identity, &attrs.streaming())?;
    }
    let identity = Some(identity);
    if let Some(tokens) = &state.api.tokens {
        if let Some(r) = serviceaccount::oidc::serve(tokens, &path, &state.advertise) {
            return Ok(r);
        }
    }
    if path == metrics::PATH {
        return Ok(state.metrics.render(&state.api).await);
    }
    let openapi = openapi::serve(
        &path,
        req.uri().query(),
        req.headers(),
        &state.version.git_version,
    );
    if let Some(r) = openapi {
        return r;
    }
    // Connect subresources (logs, exec, port-forward, node proxy) go to the kubelet.
    if let Some(target) = proxy::parse(&path) {
        return rest::proxy::serve(&state.api, state.kubelet.as_ref(), target, req).await;
    }
    let mut params = params::Params::parse(req.uri().query())?;
    params.user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let target = request::parse(req.method(), &path, params.watch)?;
    // The head by reference, the body by value: no copy of the headers.
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    match target {
        request::Target::Discovery(d) => discovery::serve(&d, headers, &state.advertise),
        request::Target::Resource(r) => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let apply = content_type.is_some_and(|c| c.starts_with("application/apply-patch"));
            *labels = Some(metrics::Labels::of(&r, params.dry_run, apply));
            let output =
                request::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))?;
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = read_body(body).await?;
            let call = rest::Call {
                api: &state.api,
                user: identity.as_ref(),
                trusted,
                req: r,
                params,
                output,
                content_type,
                body,
            };
            rest::handle(call).await
        }
    }
}

/// The identity of a ServiceAccount token in `Authorization: Bearer`, if it is good (a bad
/// one is logged and the request goes on unauthenticated, hence 401).
async fn bearer(api: &rest::Api, headers: &axum::http::HeaderMap) -> Option<Identity> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return None;
    }
    match api.tokens.as_ref()?.authenticate(api, token).await {
        Ok(id) => Some(id),
        Err(e) => {
            debug!(error = %e, "Unable to authenticate the request");
            None
        }
    }
}

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, rest::MAX_BODY)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string().contains("length limit exceeded"))
                || e.to_string().contains("length limit exceeded");
            if too_large {
                ApiError::too_large()
            } else {
                ApiError::bad_request(format!("reading the request body: {e}"))
            }
        })
}
