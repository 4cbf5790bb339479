//! PUT, PATCH and apply of a Service: the Service and the keys of the cluster IP and node
//! ports it takes and lets go are written in one transaction, on the revision read, so two
//! writers never get one value and a failed update takes or releases nothing.

use rkube_store::{Compare, CompareResult, CompareTarget, Op, StoreExt, Txn};
use serde_json::Value;

use super::{
    update::{stored_bytes, Written},
    Call,
};
use crate::{
    alloc,
    object::set_resource_version,
    status::{ApiError, ApiResult},
};

/// The seed of one update's candidates: attempt 0 is what the caller showed a dry run.
pub fn seed() -> u64 {
    uuid::Uuid::new_v4().as_u128() as u64
}

/// Stores the updated Service `base` over `old`, read at `rev`, with what it needs allocated
/// (`alloc::update::assign_update`) and what it no longer uses released. `None` when the
/// Service changed or went since it was read.
pub async fn commit(
    call: &Call<'_>,
    key: &str,
    rev: i64,
    old: &Value,
    base: &Value,
    seed: u64,
) -> ApiResult<Option<Written>> {
    let def = call.def();
    let owner = format!("{}/{}", call.ns().unwrap_or_default(), call.name());
    let old_keys = alloc::held_keys(old);
    // Keys recorded for this Service that its stored object does not name (leaked by an
    // older rkube) are taken over rather than refused.
    let mut adopted: Vec<String> = Vec::new();
    for attempt in 0..32 {
        let mut new = base.clone();
        alloc::update::assign_update(&mut new, old, &call.api.ranges, seed, attempt)?;
        set_resource_version(&mut new, rev);
        let new_keys = alloc::held_keys(&new);
        let taken: Vec<String> = new_keys
            .iter()
            .filter(|k| !old_keys.contains(k))
            .cloned()
            .collect();
        let gone: Vec<String> = old_keys
            .iter()
            .filter(|k| !new_keys.contains(k))
            .cloned()
            .collect();
        let (mut compare, mut ops) = alloc::release(&*call.api.store, &gone, &owner).await?;
        compare.push(Compare::mod_revision_eq(key, rev));
        for k in &taken {
            compare.push(match adopted.contains(k) {
                true => Compare::new(
                    k.as_str(),
                    CompareResult::Equal,
                    CompareTarget::Value(owner.as_bytes().to_vec()),
                ),
                false => Compare::mod_revision_eq(k.as_str(), 0),
            });
            ops.push(Op::put(k.as_str(), owner.as_bytes()));
        }
        let (bytes, splice) = stored_bytes(def, &mut new);
        ops.push(Op::put(key, bytes.as_slice()));
        let resp = call
            .api
            .store
            .txn(Txn::new().when(compare).and_then(ops))
            .await?;
        if resp.succeeded {
            set_resource_version(&mut new, resp.revision);
            return Ok(Some(match splice {
                true => Written::Stored(new, bytes),
                false => Written::Updated(new),
            }));
        }
        // Why not: the Service changed, a value asked for is another Service's (422), or a
        // picked one is (the next attempt picks others); a released key that changed hands
        // meanwhile is read again by the next attempt.
        match call.api.store.get(key.as_bytes()).await? {
            Some(kv) if kv.mod_revision == rev => {}
            _ => return Ok(None),
        }
        for k in taken {
            let Some(kv) = call.api.store.get(k.as_bytes()).await? else {
                continue;
            };
            if kv.value == owner.as_bytes() {
                if !adopted.contains(&k) {
                    adopted.push(k);
                }
                continue;
            }
            if let Some(err) = alloc::refused(base, &k) {
                return Err(err);
            }
        }
    }
    Err(ApiError::internal(
        "failed to allocate a cluster IP or node port: the range is full",
    ))
}

#[cfg(test)]
#[path = "update_service_tests.rs"]
mod tests;
