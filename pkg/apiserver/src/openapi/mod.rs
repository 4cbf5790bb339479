//! The OpenAPI documents kube-apiserver serves, generated from the registry: `/openapi/v2`
//! (JSON, or gnostic protobuf for client-go's `OpenAPISchema()`) and `/openapi/v3` (an index
//! of per-group-version OpenAPI 3.0 documents). kubectl reads them before `create`/`apply`
//! to learn that the server validates fields itself (`fieldValidation` on the PATCH of the
//! object's kind), and for `explain` and client-side patches.
//!
//! Documents are built once, on first use. Like upstream, `/swagger-2.0.0.pb-v1` is not served.

pub mod fields;
mod go_time;
mod markers;
mod paths;
pub(crate) mod schemas;
pub mod types;
mod v2;
mod v2_proto;
mod v3;

use std::{collections::BTreeMap, sync::OnceLock};

use axum::{
    body::Body,
    http::{header, HeaderMap, StatusCode},
    response::Response,
};
use bytes::Bytes;
use prost::Message;

use crate::status::ApiError;

/// What client-go's `OpenAPISchema()` sends in `Accept`.
const PROTO_V2_ACCEPT: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The protobuf's media type: the same without the `@`, which is no token character, so
/// that clients can parse the `Content-Type` (Go's `mime.ParseMediaType` rejects the `@`
/// form). Upstream answers with this one too, and accepts either.
pub const PROTO_V2: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
const JSON: &str = "application/json";

/// One document's bytes and their hash (the ETag, and v3's `?hash=`).
struct Served {
    body: Bytes,
    hash: String,
}

impl Served {
    fn new(body: Vec<u8>) -> Self {
        let hash = format!(
            "{:016X}{:016X}",
            fnv1a(&body, 0xcbf29ce484222325),
            fnv1a(&body, 0x84222325cbf29ce4)
        );
        Self {
            body: body.into(),
            hash,
        }
    }

    fn etag(&self) -> String {
        format!("\"{}\"", self.hash)
    }
}

fn fnv1a(b: &[u8], basis: u64) -> u64 {
    b.iter().fold(basis, |h, x| {
        (h ^ u64::from(*x)).wrapping_mul(0x100000001b3)
    })
}

struct Documents {
    v2_json: Served,
    v2_proto: Served,
    v3_index: Served,
    /// By index key: "api/v1", "apis/apps/v1", ...
    v3: BTreeMap<String, Served>,
}

impl Documents {
    fn build(version: &str) -> Self {
        let sections = paths::sections();
        let catalog = paths::definitions();
        let doc = v2::document(&sections, &catalog, version);
        let v2_json = Served::new(serde_json::to_vec(&doc).unwrap_or_default());
        let v2_proto = Served::new(v2::to_proto(&doc).encode_to_vec());
        // Each document is dropped once serialized, to keep the peak (and so what the
        // allocator keeps) low.
        drop(doc);
        let v3: BTreeMap<String, Served> = sections
            .iter()
            .map(|s| {
                let doc = v3::document(s, &catalog, version);
                (
                    s.name.clone(),
                    Served::new(serde_json::to_vec(&doc).unwrap_or_default()),
                )
            })
            .collect();
        let index = v3::index(v3.iter().map(|(k, d)| (k.as_str(), d.hash.as_str())));
        Self {
            v2_json,
            v2_proto,
            v3_index: Served::new(serde_json::to_vec(&index).unwrap_or_default()),
            v3,
        }
    }
}

static DOCUMENTS: OnceLock<Documents> = OnceLock::new();

/// Serves `/openapi/...`; None for any other path. `version` (the server's gitVersion) is
/// the documents' `info.version`.
pub fn serve(
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    version: &str,
) -> Option<Result<Response, ApiError>> {
    let rest = path.strip_prefix("/openapi/")?;
    let docs = DOCUMENTS.get_or_init(|| Documents::build(version));
    Some(match rest {
        "v2" => serve_v2(docs, headers),
        "v3" => Ok(respond(&docs.v3_index, JSON, headers, false)),
        _ => match rest
            .strip_prefix("v3/")
            .and_then(|gv| docs.v3.get_key_value(gv))
        {
            Some((name, doc)) => serve_v3(name, doc, query, headers),
            None => Err(ApiError::path_not_found()),
        },
    })
}

/// The media ranges of `Accept`, most preferred first (`*/*` when absent).
fn accepted(headers: &HeaderMap) -> Vec<String> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("*/*");
    let mut ranges: Vec<(String, f32)> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next()?.to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (!media.is_empty() && q > 0.0).then_some((media, q))
        })
        .collect();
    ranges.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranges.into_iter().map(|(m, _)| m).collect()
}

fn not_acceptable(headers: &HeaderMap, offered: &str) -> ApiError {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    ApiError::new(
        406,
        "NotAcceptable",
        format!("only the following media types are accepted: {offered} (got {accept:?})"),
    )
}

fn serve_v2(docs: &Documents, headers: &HeaderMap) -> Result<Response, ApiError> {
    for media in accepted(headers) {
        match media.as_str() {
            JSON | "application/*" | "*/*" => {
                return Ok(respond(&docs.v2_json, JSON, headers, false))
            }
            PROTO_V2_ACCEPT | PROTO_V2 => {
                return Ok(respond(&docs.v2_proto, PROTO_V2, headers, false))
            }
            _ => {}
        }
    }
    Err(not_acceptable(
        headers,
        &format!("{JSON}, {PROTO_V2_ACCEPT}"),
    ))
}

fn serve_v3(
    name: &str,
    doc: &Served,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if !accepted(headers)
        .iter()
        .any(|m| matches!(m.as_str(), JSON | "application/*" | "*/*"))
    {
        return Err(not_acceptable(headers, JSON));
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
    let hash = pairs
        .iter()
        .find(|(k, _)| k == "hash")
        .map(|(_, v)| v.as_str())
        .filter(|h| !h.is_empty());
    match hash {
        // A stale link: send the client to the current document, as upstream does.
        Some(h) if h != doc.hash => {
            let location = format!("/openapi/v3/{name}?hash={}", doc.hash);
            Ok(Response::builder()
                .status(StatusCode::MOVED_PERMANENTLY)
                .header(header::LOCATION, location)
                .body(Body::empty())
                .unwrap_or_default())
        }
        Some(_) => Ok(respond(doc, JSON, headers, true)),
        None => Ok(respond(doc, JSON, headers, false)),
    }
}

/// A year from now, as an HTTP date.
fn expires() -> String {
    let when = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    when.format(time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ))
    .unwrap_or_default()
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// The document with its ETag (304 when the client has it) and cache headers: immutable
/// when asked for by hash, else revalidated each time.
fn respond(doc: &Served, content_type: &str, headers: &HeaderMap, immutable: bool) -> Response {
    let etag = doc.etag();
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::VARY, "Accept");
    builder = if immutable {
        builder
            .header(header::CACHE_CONTROL, "public, immutable")
            .header(header::EXPIRES, expires())
    } else {
        builder.header(header::CACHE_CONTROL, "no-cache, private")
    };
    let response = if matches_etag(headers, &etag) {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        builder
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(doc.body.clone()))
    };
    response.unwrap_or_default()
}

#[cfg(test)]
mod tests;
