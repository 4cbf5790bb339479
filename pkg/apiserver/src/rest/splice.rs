//! Lists written from the stored JSON of each object, without decoding it into a `Value` and
//! encoding it again: each item is the stored object with its top-level `kind` and
//! `apiVersion` left out and `metadata.resourceVersion` spliced in (the store's mod_revision).
//!
//! Stored objects are serde_json's compact output of a `Value` (keys sorted), so the spliced
//! bytes are the ones the decode/encode path produced; anything the scanner does not
//! understand makes the caller fall back to that path. Only the members up to the last
//! edited one (`metadata`) are scanned; the rest (spec, status) is copied as it is up to the
//! closing brace: the store holds only what the API server encoded, so it is valid JSON.

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `i` at an opening quote; the index after the closing one.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        // Jumps to the next quote or backslash: most of a stored object is string bytes.
        i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// `i` at the first byte of a value; the index after it.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// Appends the stored object `stored` as a list item (see the module doc). Returns false,
/// leaving `out` as it was, when `stored` is not an object this can splice.
pub fn write_item(out: &mut Vec<u8>, stored: &[u8], revision: i64) -> bool {
    let rv = resource_version(revision);
    let edits = [
        ("apiVersion", Edit::Drop),
        ("kind", Edit::Drop),
        ("metadata", Edit::Metadata(&rv)),
    ];
    write_checked(out, stored, &edits)
}

/// The stored object `stored` as served on its own: `kind` and `apiVersion` the
/// resource's, `metadata.resourceVersion` the revision; `None` when it cannot be spliced.
pub fn object(stored: &[u8], revision: i64, api_version: &str, kind: &str) -> Option<Vec<u8>> {
    let rv = resource_version(revision);
    let (api_version, kind) = (json_string(api_version), json_string(kind));
    let edits = [
        ("apiVersion", Edit::Raw(&api_version)),
        ("kind", Edit::Raw(&kind)),
        ("metadata", Edit::Metadata(&rv)),
    ];
    let mut out = Vec::with_capacity(stored.len() + 64);
    write_checked(&mut out, stored, &edits).then_some(out)
}

/// The stored object `stored` as a meta.k8s.io `PartialObjectMetadata` of this `version`:
/// its metadata alone, `resourceVersion` the revision, written from the stored bytes (what a
/// metadata-only watch such as the garbage collector's receives for every change); `None`
/// when it cannot be spliced.
pub fn partial(stored: &[u8], revision: i64, version: &str) -> Option<Vec<u8>> {
    let rv = resource_version(revision);
    let metadata = member(stored, "metadata")?;
    let mut out = Vec::with_capacity(stored.len().min(4096) + 96);
    out.extend_from_slice(b"{\"apiVersion\":");
    out.extend_from_slice(&json_string(&format!("meta.k8s.io/{version}")));
    out.extend_from_slice(b",\"kind\":\"PartialObjectMetadata\",\"metadata\":");
    write_object(
        &mut out,
        stored,
        metadata,
        None,
        &[("resourceVersion", Edit::Raw(&rv))],
    )?;
    out.push(b'}');
    Some(out)
}

/// Where the value of the top-level member `key` of the object `b` starts.
fn member(b: &[u8], key: &str) -> Option<usize> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    while b.get(i) == Some(&b'"') {
        let key_end = skip_string(b, i)?;
        let colon = skip_ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            return None;
        }
        let v = skip_ws(b, colon + 1);
        // A key with escapes is never "metadata" written plainly; it is skipped like others.
        if &b[i + 1..key_end - 1] == key.as_bytes() {
            return Some(v);
        }
        i = skip_ws(b, skip_value(b, v)?);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            _ => return None,
        }
    }
    None
}

fn resource_version(revision: i64) -> Vec<u8> {
    format!("\"{revision}\"").into_bytes()
}

fn json_string(s: &str) -> Vec<u8> {
    serde_json::to_vec(s).expect("a string serializes")
}

/// What happens to one member of an object, present or not.
enum Edit<'a> {
    /// Left out.
    Drop,
    /// Written with this (JSON) value.
    Raw(&'a [u8]),
    /// The object's metadata, with this (JSON) resourceVersion; required.
    Metadata(&'a [u8]),
}

fn write_checked(out: &mut Vec<u8>, stored: &[u8], edits: &[(&str, Edit<'_>)]) -> bool {
    let mark = out.len();
    // The object must end with its closing brace (trailing whitespace aside); knowing where,
    // the members after the last edited one are copied without being scanned.
    let mut end = stored.len();
    while end > 0 && matches!(stored[end - 1], b' ' | b'\t' | b'\n' | b'\r') {
        end -= 1;
    }
    if end == 0
        || stored[end - 1] != b'}'
        || write_object(out, stored, 0, Some(end), edits) != Some(end)
    {
        out.truncate(mark);
        return false;
    }
    true
}

/// Writes the object starting at `b[start]` with `edits` (sorted by key) applied, keeping
/// serde_json's sorted key order: a member an edit adds goes before the first greater key.
/// Returns the index after the object's closing brace. With `known_end` (the index after
/// that brace, for the outermost object), the members after the last edit are copied as
/// they are: for a pod that is the spec and status, most of its bytes.
fn write_object(
    out: &mut Vec<u8>,
    b: &[u8],
    start: usize,
    known_end: Option<usize>,
    edits: &[(&str, Edit<'_>)],
) -> Option<usize> {
    let mut i = skip_ws(b, start);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    out.push(b'{');
    let mut first = true;
    let mut pending = edits.iter().peekable();
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let key_end = skip_string(b, i)?;
            let key = &b[i + 1..key_end - 1];
            // Keys with escapes would need unescaping to compare; leave them to the slow path.
            if key.contains(&b'\\') {
                return None;
            }
            let colon = skip_ws(b, key_end);
            if b.get(colon) != Some(&b':') {
                return None;
            }
            let v = skip_ws(b, colon + 1);
            while let Some((k, e)) = pending.next_if(|(k, _)| k.as_bytes() < key) {
                write_edit(out, &mut first, k, e, None, b)?;
            }
            let v_end = match pending.next_if(|(k, _)| k.as_bytes() == key) {
                Some((k, e)) => write_edit(out, &mut first, k, e, Some(v), b)?,
                None => {
                    let v_end = skip_value(b, v)?;
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(&b[i..v_end]);
                    v_end
                }
            };
            i = skip_ws(b, v_end);
            if let (None, Some(end)) = (pending.peek(), known_end) {
                // Nothing left to edit: the rest up to the closing brace as it is.
                match b.get(i) {
                    Some(b'}') if i + 1 == end => {}
                    Some(b',') if i + 1 < end => {
                        let rest = if first { skip_ws(b, i + 1) } else { i };
                        out.extend_from_slice(&b[rest..end - 1]);
                    }
                    _ => return None,
                }
                out.push(b'}');
                return Some(end);
            }
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    for (k, e) in pending {
        write_edit(out, &mut first, k, e, None, b)?;
    }
    out.push(b'}');
    Some(i)
}

/// Writes one edited member; `present` is where the stored value starts, if there is one.
/// Returns the index after the stored value (`0` when there is none).
fn write_edit(
    out: &mut Vec<u8>,
    first: &mut bool,
    key: &str,
    edit: &Edit<'_>,
    present: Option<usize>,
    b: &[u8],
) -> Option<usize> {
    let skipped = || present.map_or(Some(0), |v| skip_value(b, v));
    let value = match edit {
        Edit::Drop => return skipped(),
        Edit::Raw(v) => Ok(*v),
        // Every stored object has metadata; one without is left to the decoding path.
        Edit::Metadata(rv) => Err((present?, *rv)),
    };
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    match value {
        Ok(v) => {
            out.extend_from_slice(v);
            skipped()
        }
        Err((start, rv)) => {
            write_object(out, b, start, None, &[("resourceVersion", Edit::Raw(rv))])
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// What the decoding path serves for one stored object.
    fn decoded(stored: &[u8], rev: i64) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(stored).unwrap();
        v["metadata"]["resourceVersion"] = json!(rev.to_string());
        let o = v.as_object_mut().unwrap();
        o.remove("kind");
        o.remove("apiVersion");
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn spliced_items_are_the_decoded_ones() {
        let objects = [
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "n",
                "uid": "u", "labels": {"x": "y \" } ] \\ {"}}, "spec": {"containers": [{"name": "c",
                "image": "i", "args": ["}", "{", "[\"]"]}]}, "status": {"phase": "Pending"}}),
            json!({"kind": "ConfigMap", "metadata": {"annotations": {}, "name": "z"},
                "data": {"k": "välue\n\t"}, "immutable": false, "n": 1.5, "m": null, "e": []}),
            json!({"metadata": {"zz": 1}}),
            json!({"metadata": {}}),
        ];
        for obj in objects {
            let stored = serde_json::to_vec(&obj).unwrap();
            let mut out = Vec::new();
            assert!(write_item(&mut out, &stored, 42), "{obj}");
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(decoded(&stored, 42)).unwrap()
            );
        }
    }

    #[test]
    fn served_objects_get_the_resources_type_meta() {
        let stored = br#"{"apiVersion":"autoscaling/v2","data":{},"kind":"X","metadata":{"name":"a","uid":"u"}}"#;
        let served = object(stored, 9, "autoscaling/v1", "HorizontalPodAutoscaler").unwrap();
        let mut want: Value = serde_json::from_slice(stored).unwrap();
        want["apiVersion"] = json!("autoscaling/v1");
        want["kind"] = json!("HorizontalPodAutoscaler");
        want["metadata"]["resourceVersion"] = json!("9");
        assert_eq!(served, serde_json::to_vec(&want).unwrap());
        // Added where serde_json would put them when the stored object has none.
        let served = object(br#"{"b":1,"metadata":{}}"#, 3, "v1", "Pod").unwrap();
        assert_eq!(
            String::from_utf8(served).unwrap(),
            r#"{"apiVersion":"v1","b":1,"kind":"Pod","metadata":{"resourceVersion":"3"}}"#
        );
    }

    #[test]
    fn partial_metadata_is_the_decoded_objects_metadata() {
        let objects: [&[u8]; 5] = [
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"x":"y \" } ] \\ {"},"name":"a","uid":"u"},"spec":{"containers":[{"name":"c"}]}}"#,
            br#"{"data":{"k":"v"},"metadata":{"name":"z","resourceVersion":"1"}}"#,
            br#"{"metadata":{}}"#,
            br#" { "spec" : { "metadata" : 1 } , "metadata" : { "resourceVersion" : "3", "name" : "a" } } "#,
            br#"{"a\"metadata":{"x":1},"metadata":{"name":"q"},"z":[]}"#,
        ];
        for stored in objects {
            let got = partial(stored, 42, "v1").expect("spliced");
            let v: Value = serde_json::from_slice(stored).unwrap();
            let mut meta = v["metadata"].clone();
            meta["resourceVersion"] = json!("42");
            let want = json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                "metadata": meta});
            let got: Value = serde_json::from_slice(&got).unwrap();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(stored));
        }
        // Compact stored objects splice to exactly the bytes the decoding path writes.
        let got = partial(objects[0], 7, "v1beta1").unwrap();
        let mut meta: Value =
            serde_json::from_slice::<Value>(objects[0]).unwrap()["metadata"].clone();
        meta["resourceVersion"] = json!("7");
        let want = json!({"apiVersion": "meta.k8s.io/v1beta1", "kind": "PartialObjectMetadata",
            "metadata": meta});
        assert_eq!(got, serde_json::to_vec(&want).unwrap());
        assert!(partial(br#"{"spec":{}}"#, 1, "v1").is_none());
        assert!(partial(b"[]", 1, "v1").is_none());
    }

    #[test]
    fn whitespace_and_a_stale_resource_version_are_handled() {
        let stored = br#" { "kind" : "Pod" , "metadata" : { "resourceVersion" : "3", "name" : "a" } , "spec" : { } } "#;
        let mut out = b"[".to_vec();
        assert!(write_item(&mut out, stored, 7));
        let item: Value = serde_json::from_slice(&out[1..]).unwrap();
        assert_eq!(
            item,
            json!({"metadata": {"name": "a", "resourceVersion": "7"}, "spec": {}})
        );
    }

    #[test]
    fn what_it_cannot_splice_is_refused_untouched() {
        for bad in [
            &b"[1]"[..],
            b"{\"spec\":{}}",
            b"{\"metadata\":[]}",
            b"{\"metadata\":{\"a\":1}",
            b"{\"metadata\":{}} x",
            b"{\"metadata\":{\"a\\u0062\":1}}",
            b"",
        ] {
            let mut out = b"prefix".to_vec();
            assert!(
                !write_item(&mut out, bad, 1),
                "{}",
                String::from_utf8_lossy(bad)
            );
            assert_eq!(out, b"prefix");
        }
    }
}
