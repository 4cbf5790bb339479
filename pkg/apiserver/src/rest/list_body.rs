//! The body of a JSON list, written in chunks while it is sent: each chunk splices the next
//! stored objects (splice.rs), so a 10k-pod list is never one 25 MiB buffer, the stored
//! values are freed as they are written, and the client reads one chunk while the next is
//! made.

use bytes::Bytes;
use rkube_store::KeyValue;
use tracing::warn;

use crate::{object::from_stored, status::ApiError};

/// Bytes per chunk: large enough that a chunk is a few TLS records and one write.
const CHUNK: usize = 256 * 1024;

pub struct Chunks {
    /// The list up to `"items":[`, written before the first item.
    start: Option<Vec<u8>>,
    kvs: std::vec::IntoIter<KeyValue>,
    first: bool,
    /// `],"kind":…,"metadata":{…}}`, written after the last item.
    end: Option<Vec<u8>>,
}

impl Chunks {
    /// `head` is `{"apiVersion":…}` and `tail` `{"kind":…,"metadata":…}` (serde_json's
    /// output): the list is `{"apiVersion":…,"items":[…],"kind":…,"metadata":{…}}`, the
    /// decoding path's (sorted) key order.
    pub fn new(head: &[u8], kvs: Vec<KeyValue>, tail: &[u8]) -> Self {
        let mut start = head[..head.len() - 1].to_vec();
        start.extend_from_slice(b",\"items\":[");
        let mut end = b"],".to_vec();
        end.extend_from_slice(&tail[1..]);
        Self {
            start: Some(start),
            kvs: kvs.into_iter(),
            first: true,
            end: Some(end),
        }
    }

    /// Whether every byte has been handed out.
    pub fn is_done(&self) -> bool {
        self.end.is_none()
    }

    /// The next chunk: `None` after the last.
    pub fn next_chunk(&mut self) -> Option<Result<Bytes, ApiError>> {
        let end = self.end.as_ref()?;
        let mut out = self
            .start
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK + 8192));
        while out.len() < CHUNK {
            let Some(kv) = self.kvs.next() else {
                out.extend_from_slice(end);
                self.end = None;
                break;
            };
            if !self.first {
                out.push(b',');
            }
            self.first = false;
            if let Err(e) = write_item(&mut out, &kv) {
                self.end = None;
                return Some(Err(e));
            }
        }
        Some(Ok(out.into()))
    }
}

/// One item: spliced from the stored bytes, or decoded and encoded when they cannot be.
fn write_item(out: &mut Vec<u8>, kv: &KeyValue) -> Result<(), ApiError> {
    if crate::rest::splice::write_item(out, &kv.value, kv.mod_revision) {
        return Ok(());
    }
    let mut obj = from_stored(kv)?;
    if let Some(o) = obj.as_object_mut() {
        o.remove("kind");
        o.remove("apiVersion");
    }
    serde_json::to_writer(out, &obj).map_err(|e| ApiError::internal(e.to_string()))
}

impl Iterator for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    /// A failure after the first chunk can no longer become a Status: the response ends
    /// early and the client sees a truncated body (an object the store cannot decode).
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_chunk()?.map_err(|e| {
            warn!(error = ?e, "list: an item failed mid-stream; ending the response");
            std::io::Error::other("list item failed to encode")
        }))
    }
}
