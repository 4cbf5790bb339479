//! Range reads, generic over read and write transactions (a txn's Range op sees its own writes).

use std::ops::Bound;

use redb::ReadableTable;

use super::tables::{load, Ptr, DELETED};
use crate::{Error, KeyValue, RangeRequest, RangeResponse, Result};

pub(super) struct Tables<'t, C, H, L> {
    pub cur: &'t C,
    pub hist: &'t H,
    pub log: &'t L,
}

impl<C, H, L> Tables<'_, C, H, L>
where
    C: ReadableTable<&'static [u8], Ptr>,
    H: ReadableTable<(&'static [u8], u64), u32>,
    L: ReadableTable<(u64, u32), &'static [u8]>,
{
    /// The live value of one key.
    pub fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        match self.cur.get(key)? {
            Some(ptr) => {
                let ptr = ptr.value();
                Ok(Some(load(self.log, ptr)?.into_kv(ptr.0)))
            }
            None => Ok(None),
        }
    }

    /// Serves `req` given the store's `current` and `compacted` revisions.
    pub fn range(&self, req: &RangeRequest, current: i64, compacted: i64) -> Result<RangeResponse> {
        if req.revision > current {
            return Err(Error::FutureRevision {
                requested: req.revision,
                current,
            });
        }
        if req.revision > 0 && req.revision < compacted {
            return Err(Error::Compacted {
                requested: req.revision,
                compact_revision: compacted,
            });
        }
        let mut resp = RangeResponse {
            revision: current,
            ..RangeResponse::default()
        };
        if !req.range_end.is_empty() && req.range_end != [0] && req.key >= req.range_end {
            return Ok(resp);
        }
        let push = |ptr: Ptr, resp: &mut RangeResponse| -> Result<()> {
            resp.count += 1;
            if req.count_only {
                return Ok(());
            }
            if req.limit > 0 && resp.kvs.len() as i64 >= req.limit {
                resp.more = true;
                return Ok(());
            }
            let mut kv = load(self.log, ptr)?.into_kv(ptr.0);
            if req.keys_only {
                kv.value.clear();
            }
            resp.kvs.push(kv);
            Ok(())
        };
        if req.revision == 0 || req.revision == current {
            for item in self.cur.range::<&[u8]>(bounds(&req.key, &req.range_end))? {
                let (_, ptr) = item?;
                push(ptr.value(), &mut resp)?;
            }
        } else {
            let at = req.revision as u64;
            // Per key, the newest revision at or before `at`; hist is ordered by (key, revision).
            let mut pending: Option<(Vec<u8>, Option<Ptr>)> = None;
            let (lo, hi) = bounds(&req.key, &req.range_end);
            let lo = match lo {
                Bound::Included(k) => Bound::Included((k, 0u64)),
                _ => Bound::Unbounded,
            };
            let hi = match hi {
                Bound::Included(k) => Bound::Included((k, u64::MAX)),
                Bound::Excluded(k) => Bound::Excluded((k, 0u64)),
                Bound::Unbounded => Bound::Unbounded,
            };
            for item in self.hist.range::<(&[u8], u64)>((lo, hi))? {
                let (k, sub) = item?;
                let (key, rev) = k.value();
                let sub = sub.value();
                if pending.as_ref().is_none_or(|(pk, _)| pk.as_slice() != key) {
                    if let Some((_, Some(ptr))) = pending.take() {
                        push(ptr, &mut resp)?;
                    }
                    pending = Some((key.to_vec(), None));
                }
                if rev <= at {
                    let live = (sub & DELETED == 0).then_some((rev, sub & !DELETED));
                    pending.as_mut().expect("set above").1 = live;
                }
            }
            if let Some((_, Some(ptr))) = pending {
                push(ptr, &mut resp)?;
            }
        }
        Ok(resp)
    }
}

fn bounds<'a>(key: &'a [u8], range_end: &'a [u8]) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    if range_end.is_empty() {
        (Bound::Included(key), Bound::Included(key))
    } else if range_end == [0] {
        (Bound::Included(key), Bound::Unbounded)
    } else {
        (Bound::Included(key), Bound::Excluded(range_end))
    }
}
