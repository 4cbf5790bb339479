//! A resource type's current objects, kept from its events so LISTs need not read the store:
//! loaded once by a read at the revision the hub's ring starts from, then changed by every
//! event the feed hands the hub.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use bytes::Bytes;
use rkube_store::{prefix_end, KeyValue, RangeRequest, Store};
use tracing::{debug, warn};

use super::{Event, Hub, HubState};

/// A stored object as the type's LISTs serve it.
pub(super) struct Entry {
    value: Bytes,
    mod_revision: i64,
}

/// Applies one change of the hub's type.
pub(super) fn apply(live: &mut BTreeMap<Vec<u8>, Entry>, ev: &Event) {
    if ev.deleted {
        live.remove(&ev.key);
    } else {
        live.insert(
            ev.key.clone(),
            Entry {
                value: ev.stored.clone(),
                mod_revision: ev.revision,
            },
        );
    }
}

/// Loads the hub's objects in the background (again after the feed restarted).
pub(super) fn start_load(store: Arc<dyn Store>, hub: Arc<Hub>) {
    {
        let mut st = hub.state.lock().expect("hub lock");
        if st.loading {
            return;
        }
        st.loading = true;
    }
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(100);
        loop {
            match load(&*store, &hub).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(rkube_store::Error::Closed) => return,
                Err(e) => warn!(
                    prefix = %hub.prefix.escape_ascii(),
                    error = %e,
                    "watch cache: loading the objects failed; retrying"
                ),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    });
}

/// One attempt: reads the type at the revision its ring starts from, then replays the ring.
/// False when the ring moved on meanwhile (a restart, or more events than it holds).
async fn load(store: &dyn Store, hub: &Hub) -> Result<bool, rkube_store::Error> {
    let (generation, at) = {
        let st = hub.state.lock().expect("hub lock");
        (st.generation, st.oldest)
    };
    let req =
        RangeRequest::range(hub.prefix.clone(), prefix_end(&hub.prefix)).at_revision(at.max(1));
    let page = store.range(req).await?;
    let mut st = hub.state.lock().expect("hub lock");
    if st.generation != generation || st.oldest != at {
        return Ok(false);
    }
    let mut live: BTreeMap<Vec<u8>, Entry> = page
        .kvs
        .into_iter()
        .map(|kv| {
            let entry = Entry {
                value: kv.value.into(),
                mod_revision: kv.mod_revision,
            };
            (kv.key, entry)
        })
        .collect();
    for ev in &st.ring {
        apply(&mut live, ev);
    }
    debug!(
        prefix = %hub.prefix.escape_ascii(),
        objects = live.len(),
        revision = at,
        "watch cache: objects loaded"
    );
    let HubState {
        live: slot,
        loading,
        ..
    } = &mut *st;
    *slot = Some(live);
    *loading = false;
    Ok(true)
}

/// One object of a list served from the cache; its bytes are shared with the cache until it
/// is made into a [`KeyValue`].
pub struct Item {
    key: Vec<u8>,
    value: Bytes,
    mod_revision: i64,
}

impl From<Item> for KeyValue {
    fn from(i: Item) -> Self {
        KeyValue {
            key: i.key,
            value: i.value.to_vec(),
            mod_revision: i.mod_revision,
            ..KeyValue::default()
        }
    }
}

/// A list served from the cache.
pub struct Listed {
    pub items: Vec<Item>,
    /// The revision the items are the state of.
    pub revision: i64,
}

/// The objects under `range` and the revision they are the state of: every change of the
/// type up to its last applied one, and every change at all up to `published`. Only keys
/// and shared buffers are taken under the lock.
pub(super) fn snapshot(hub: &Hub, range: &[u8], published: i64) -> Option<Listed> {
    let st = hub.state.lock().expect("hub lock");
    let live = st.live.as_ref()?;
    let end = prefix_end(range);
    let items = live
        .range::<[u8], _>((
            std::ops::Bound::Included(range),
            std::ops::Bound::Excluded(end.as_slice()),
        ))
        .map(|(k, e)| Item {
            key: k.clone(),
            value: e.value.clone(),
            mod_revision: e.mod_revision,
        })
        .collect();
    Some(Listed {
        items,
        revision: st.through.max(published),
    })
}
