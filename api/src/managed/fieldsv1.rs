//! FieldsV1, the JSON form of a [`Set`] in `metadata.managedFields`: an object per path
//! element (`f:`, `k:`, `v:`, `i:`), `{}` for a member without children, and `".": {}`
//! inside a child object that is also a member itself.

use serde_json::{Map, Value};

use super::{path::PathElement, set::Set};

pub fn to_fields_v1(set: &Set) -> Value {
    Value::Object(emit(set, false))
}

fn emit(set: &Set, include_self: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for pe in set.members() {
        if set.child(pe).is_none() {
            out.insert(pe.to_fields_v1(), Value::Object(Map::new()));
        }
    }
    for (pe, child) in set.children() {
        out.insert(
            pe.to_fields_v1(),
            Value::Object(emit(child, set.is_member(pe))),
        );
    }
    if include_self && !out.is_empty() {
        out.insert(".".into(), Value::Object(Map::new()));
    }
    out
}

/// Parses FieldsV1; unknown element kinds are skipped, as upstream does.
pub fn from_fields_v1(v: &Value) -> Result<Set, String> {
    let Value::Object(m) = v else {
        return Err("FieldsV1 must be a JSON object".into());
    };
    let (set, _) = read(m)?;
    Ok(set)
}

/// The children of one object, and whether the object is itself a member (it has `.` or
/// is empty).
fn read(m: &Map<String, Value>) -> Result<(Set, bool), String> {
    let mut set = Set::new();
    let mut member = false;
    for (k, v) in m {
        if k == "." {
            member = true;
            continue;
        }
        let Some(pe) = PathElement::from_fields_v1(k)? else {
            continue;
        };
        let Value::Object(inner) = v else {
            return Err(format!("the value of {k:?} must be a JSON object"));
        };
        let (child, child_member) = read(inner)?;
        if child_member {
            set.insert_member(pe.clone());
        }
        set.insert_child(pe, child);
    }
    // An object with nothing (known) below it is a member, as upstream reads it.
    let member = member || set.is_empty();
    Ok((set, member))
}
