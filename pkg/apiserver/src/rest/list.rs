//! LIST: a consistent snapshot read, filtered by label and field selectors, paginated with
//! `limit` and `continue` as kube-apiserver does (the continue token pins the revision).

use axum::{
    body::Body,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine;
use rkube_api::{
    selectors::{FieldSelector, LabelSelector},
    ResourceDef,
};
use rkube_store::{prefix_end, KeyValue, RangeRequest};
use serde_json::{json, Value};

use super::{respond, Call};
use crate::{
    object::from_stored,
    params::Params,
    request::Output,
    status::{ApiError, ApiResult},
};
use futures_util::StreamExt;

#[path = "list_body.rs"]
mod list_body;

/// Label and field selectors of a request, parsed and checked against the kind.
pub struct Filter {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
    def: &'static ResourceDef,
}

impl Filter {
    pub fn new(def: &'static ResourceDef, params: &Params) -> ApiResult<Self> {
        let labels = match params
            .label_selector
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let fields = match params
            .field_selector
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(s) => {
                let f =
                    FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                for field in f.fields() {
                    if !rkube_api::fields::is_supported(def, field) {
                        return Err(ApiError::bad_request(format!(
                            "field label not supported: {field}"
                        )));
                    }
                }
                Some(f)
            }
            None => None,
        };
        Ok(Self {
            labels,
            fields,
            def,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    /// Whether the object stored under `key` is selected, when the key alone tells: a
    /// selector on nothing but `metadata.name` and `metadata.namespace` (the key's last two
    /// segments). `None` when the object is needed.
    pub fn matches_key(&self, key: &[u8]) -> Option<bool> {
        let fields = self.fields.as_ref()?;
        if self.labels.is_some()
            || !fields
                .fields()
                .all(|f| f == "metadata.name" || f == "metadata.namespace")
        {
            return None;
        }
        let (namespace, name) = self.def.parse_key(key)?;
        Some(fields.matches(|f| match f {
            "metadata.name" => Some(name.to_string()),
            _ => Some(namespace.to_string()),
        }))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        if let Some(l) = &self.labels {
            if !l.matches_json(obj.pointer("/metadata/labels")) {
                return false;
            }
        }
        if let Some(f) = &self.fields {
            let values = rkube_api::fields::labels(self.def, obj);
            return f.matches(|name| {
                values
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            });
        }
        true
    }
}

/// What `continue` carries: the revision of the first page and where the next starts.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

fn encode_continue(rv: i64, start: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: start.into(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&t).expect("serializes"))
}

fn decode_continue(s: &str) -> ApiResult<ContinueToken> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(s))
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || t.rv <= 0 || t.start.contains("..") {
        return Err(bad());
    }
    Ok(t)
}

/// The revision a list (or the initial state of a watch) reads at: 0 for the latest.
pub fn read_revision(params: &Params) -> ApiResult<i64> {
    let rv = params.resource_version.as_deref();
    match (rv, params.resource_version_match.as_deref()) {
        (None, Some(_)) => Err(ApiError::bad_request(
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )),
        (Some(v), Some("Exact")) => {
            let n: i64 = v.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}")))?;
            if n == 0 {
                return Err(ApiError::bad_request("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
            }
            Ok(n)
        }
        (Some(v), m @ (None | Some("NotOlderThan"))) => {
            let n = v.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}")))?;
            // With a limit and no match, a resourceVersion is exact (upstream's legacy
            // pagination semantics); otherwise it is a lower bound and the latest serves it.
            let exact = m.is_none() && n != 0 && params.limit.is_some_and(|l| l > 0);
            Ok(if exact { n } else { 0 })
        }
        (None, None) => Ok(0),
        (_, Some(m)) => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: {m:?}: supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

pub struct Listed {
    pub items: Vec<Value>,
    pub revision: i64,
    pub continue_: Option<String>,
    pub remaining: Option<i64>,
}

/// Where a scan ended: the revision read at and how to continue.
struct Scanned {
    revision: i64,
    continue_: Option<String>,
    remaining: Option<i64>,
}

/// Reads the matching objects under `def`'s prefix for `ns`.
pub async fn read_list(call: &Call<'_>, filter: &Filter) -> ApiResult<Listed> {
    let def = call.def();
    let mut items = Vec::new();
    let s = scan(call, filter, |kv| {
        let mut obj = super::convert::from_storage(def, from_stored(&kv)?);
        if !filter.matches(&obj) {
            return Ok(false);
        }
        if let Some(o) = obj.as_object_mut() {
            o.remove("kind");
            o.remove("apiVersion");
        }
        items.push(obj);
        Ok(true)
    })
    .await?;
    Ok(Listed {
        items,
        revision: s.revision,
        continue_: s.continue_,
        remaining: s.remaining,
    })
}

/// Walks the objects under `def`'s prefix for `ns` page by page, handing each to `push`
/// (which says whether it was taken), up to `limit` taken objects. The first page may come
/// whole from the watch cache; what follows a limited page is read from the store at the
/// revision its continue token pins.
async fn scan(
    call: &Call<'_>,
    filter: &Filter,
    mut push: impl FnMut(KeyValue) -> ApiResult<bool>,
) -> ApiResult<Scanned> {
    let def = call.def();
    let prefix = def.prefix(call.ns());
    let end = prefix_end(prefix.as_bytes());
    let limit = call.params.limit.filter(|l| *l > 0);
    let (mut from, mut revision) = match call.params.continue_.as_deref() {
        Some(c) => {
            let t = decode_continue(c)?;
            (format!("{prefix}{}", t.start).into_bytes(), t.rv)
        }
        None => (prefix.clone().into_bytes(), read_revision(&call.params)?),
    };
    let pinned = call.params.continue_.is_some();
    let mut cached = match from_cache(call).await? {
        Some(c) => {
            revision = c.revision;
            Some(c.items)
        }
        None => None,
    };
    let mut taken = 0i64;
    loop {
        // One page: its objects (made into KeyValues only as they are walked), whether the
        // store holds more after it, and how many objects the range holds in all.
        let (items, n, more, count): (Box<dyn Iterator<Item = KeyValue> + Send>, _, _, _) =
            match cached.take() {
                Some(items) => {
                    let n = items.len();
                    (
                        Box::new(items.into_iter().map(KeyValue::from)),
                        n,
                        false,
                        n as i64,
                    )
                }
                None => {
                    let mut req =
                        RangeRequest::range(from.clone(), end.clone()).at_revision(revision);
                    if let Some(l) = limit {
                        req = req.with_limit(l.max(100));
                    }
                    let page = call.api.store.range(req).await.map_err(|e| match e {
                        rkube_store::Error::Compacted { .. } if pinned => ApiError::gone(
                            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response.",
                        ),
                        other => other.into(),
                    })?;
                    if revision == 0 {
                        revision = page.revision;
                    }
                    if let Some(last) = page.kvs.last() {
                        from = last.key.clone();
                        from.push(0);
                    }
                    let n = page.kvs.len();
                    (Box::new(page.kvs.into_iter()), n, page.more, page.count)
                }
            };
        for (i, kv) in items.enumerate() {
            // The key outlives `push` only when this may be the page's last object.
            let key = limit
                .is_some_and(|l| taken + 1 >= l)
                .then(|| kv.key.clone());
            if !push(kv)? {
                continue;
            }
            taken += 1;
            if let Some(key) = key {
                if i + 1 == n && !more {
                    break;
                }
                let start = String::from_utf8_lossy(&key[prefix.len()..]).to_string() + "\u{0}";
                let remaining = filter.is_empty().then_some(count - (i as i64 + 1));
                return Ok(Scanned {
                    revision,
                    continue_: Some(encode_continue(revision, &start)),
                    remaining,
                });
            }
        }
        if n == 0 || !more {
            return Ok(Scanned {
                revision,
                continue_: None,
                remaining: None,
            });
        }
    }
}

/// The objects from the watch cache, when it can serve this list: its first page (no
/// `continue`) at the latest revision or one not older than asked for, as upstream's
/// consistent reads from cache. The latest is the store's current revision, read first (a
/// cheap request), which the cache must have reached.
async fn from_cache(call: &Call<'_>) -> ApiResult<Option<crate::watchcache::Listed>> {
    let p = &call.params;
    if p.continue_.is_some() {
        return Ok(None);
    }
    let limited = p.limit.is_some_and(|l| l > 0);
    let at_least = match (
        p.resource_version.as_deref(),
        p.resource_version_match.as_deref(),
    ) {
        (None | Some(""), _) => None,
        (Some("0"), _) => Some(0),
        // Paginated with a resourceVersion and no match: an exact read (upstream's legacy
        // semantics), from the store.
        (Some(_), None) if limited => return Ok(None),
        (Some(v), None | Some("NotOlderThan")) => v.parse::<i64>().ok(),
        _ => return Ok(None),
    };
    let (def, ns) = (call.def(), call.ns());
    Ok(call
        .api
        .watch_cache
        .list(&def.prefix(None), def.prefix(ns).as_bytes(), at_least)
        .await?)
}

fn list_metadata(s: &Scanned) -> Value {
    let mut metadata = json!({"resourceVersion": s.revision.to_string()});
    if let Some(c) = &s.continue_ {
        metadata["continue"] = json!(c);
    }
    if let Some(r) = s.remaining.filter(|r| *r > 0) {
        metadata["remainingItemCount"] = json!(r);
    }
    metadata
}

pub async fn list(call: &Call<'_>) -> ApiResult<Response> {
    super::list_options::validate(&call.params, false)?;
    let def = call.def();
    let filter = Filter::new(def, &call.params)?;
    if matches!(call.output, Output::Json) && !super::convert::converts(def) {
        return list_json(call, &filter).await;
    }
    let list = list_value(call, &filter).await?;
    respond(call, StatusCode::OK, list)
}

/// The list as a decoded object (the general path, for every representation).
async fn list_value(call: &Call<'_>, filter: &Filter) -> ApiResult<Value> {
    let def = call.def();
    let listed = read_list(call, filter).await?;
    let metadata = list_metadata(&Scanned {
        revision: listed.revision,
        continue_: listed.continue_,
        remaining: listed.remaining,
    });
    // Built by moving the items in: `json!` would copy every item once more.
    let mut list = serde_json::Map::new();
    list.insert("kind".into(), Value::String(def.list_kind()));
    list.insert("apiVersion".into(), Value::String(def.api_version()));
    list.insert("metadata".into(), metadata);
    list.insert("items".into(), Value::Array(listed.items));
    Ok(Value::Object(list))
}

/// A JSON list written straight from the stored bytes of its items (splice.rs); only
/// objects a selector must look at are decoded. The same bytes as the decoding path: keys
/// in serde_json's (sorted) order. The body streams in chunks as the client reads it, so
/// the server never holds the whole list twice and the client decodes while it is written.
async fn list_json(call: &Call<'_>, filter: &Filter) -> ApiResult<Response> {
    let def = call.def();
    let mut kvs = Vec::new();
    let s = scan(call, filter, |kv| {
        if !filter.is_empty() && !filter.matches(&from_stored(&kv)?) {
            return Ok(false);
        }
        kvs.push(kv);
        Ok(true)
    })
    .await?;
    let head = serde_json::to_vec(&json!({"apiVersion": def.api_version()}))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let tail = serde_json::to_vec(&json!({"kind": def.list_kind(), "metadata": list_metadata(&s)}))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut chunks = list_body::Chunks::new(&head, kvs, &tail);
    // The first chunk before answering: a list that fits in it is sent whole (with a
    // Content-Length, and a failing item is still a Status), only longer ones stream.
    let first = chunks.next_chunk().transpose()?.unwrap_or_default();
    let body = if chunks.is_done() {
        Body::from(first)
    } else {
        let rest = futures_util::stream::iter(chunks);
        Body::from_stream(futures_util::stream::once(async { Ok(first) }).chain(rest))
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
