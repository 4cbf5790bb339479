//! The commands turning one set of named objects into another inside an existing table: only
//! what differs is touched, so affinity sets (and their elements) of unchanged endpoints survive.
//! Pure.

use std::collections::BTreeSet;

use super::rules::{Batch, Objects, Rule};

/// Appends to `b` the commands that turn `old` into `new`, ordered so every reference stays valid
/// within the one transaction: map elements go first, chains are flushed before anything they
/// point to is deleted, and sets and chains exist before rules and elements refer to them.
pub fn diff(b: &mut Batch<'_>, old: &Objects, new: &Objects) {
    for ((map, text), (key, verdict)) in &old.elements {
        if new.elements.get(&(*map, text.clone())).map(|(_, v)| v) != Some(verdict) {
            b.delete_element(map, key);
        }
    }

    // A set is dropped (or recreated with another timeout: an existing set keeps its own) only
    // once no rule refers to it, so the chains using it are flushed too.
    let replaced_sets: BTreeSet<&String> = old
        .sets
        .iter()
        .filter(|(name, t)| new.sets.get(*name) != Some(*t))
        .map(|(name, _)| name)
        .collect();
    let mut rewritten = BTreeSet::new();
    for (chain, rules) in &old.chains {
        let changed = new.chains.get(chain) != Some(rules);
        if changed || refers_to(rules, &replaced_sets) {
            b.flush_chain(chain);
            rewritten.insert(chain.as_str());
        }
    }
    for chain in old.chains.keys() {
        if !new.chains.contains_key(chain) {
            b.delete_chain(chain);
        }
    }
    for set in &replaced_sets {
        b.delete_set(set);
    }
    for (set, timeout) in &new.sets {
        if old.sets.get(set) != Some(timeout) {
            b.set(set, *timeout);
        }
    }
    for chain in new.chains.keys() {
        if !old.chains.contains_key(chain) {
            b.chain(chain);
        }
    }
    for (chain, rules) in &new.chains {
        if !old.chains.contains_key(chain) || rewritten.contains(chain.as_str()) {
            for r in rules {
                b.rule(chain, r);
            }
        }
    }
    for ((map, text), (key, verdict)) in &new.elements {
        if old.elements.get(&(*map, text.clone())).map(|(_, v)| v) != Some(verdict) {
            b.element(map, key, verdict);
        }
    }
}

fn refers_to(rules: &[Rule], sets: &BTreeSet<&String>) -> bool {
    if sets.is_empty() {
        return false;
    }
    rules.iter().any(|r| {
        let text = serde_json::Value::Array(r.expr.clone()).to_string();
        sets.iter().any(|s| text.contains(&format!("\"@{s}\"")))
    })
}
