//! Upstream's ValidateCreateOptions / UpdateOptions / PatchOptions for what the query may
//! carry beyond dryRun: a fieldManager of at most 128 printable characters. Others are a 422
//! on the options kind (meta.k8s.io), before the body is looked at.

use rkube_api::{
    validation::{FieldError, Path},
    ResourceDef,
};

use crate::{
    params::Params,
    request::Verb,
    status::{ApiError, ApiResult},
};

/// metav1's FieldManagerMaxLength.
const FIELD_MANAGER_MAX: usize = 128;

/// A meta.k8s.io options kind (CreateOptions, ListOptions...), for the errors about it.
pub(super) const fn options_kind(kind: &'static str) -> ResourceDef {
    ResourceDef {
        group: "meta.k8s.io",
        version: "v1",
        kind,
        plural: "",
        singular: "",
        namespaced: false,
        verbs: &[],
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "",
    }
}

static CREATE: ResourceDef = options_kind("CreateOptions");
static UPDATE: ResourceDef = options_kind("UpdateOptions");
static PATCH: ResourceDef = options_kind("PatchOptions");

pub fn validate(params: &Params, verb: Verb) -> ApiResult<()> {
    let def = match verb {
        Verb::Create => &CREATE,
        Verb::Update => &UPDATE,
        Verb::Patch => &PATCH,
        _ => return Ok(()),
    };
    let Some(manager) = params.field_manager.as_deref() else {
        return Ok(());
    };
    let errs = field_manager_errors(manager);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(def, "", &errs))
    }
}

fn field_manager_errors(manager: &str) -> Vec<FieldError> {
    let path = Path::new("fieldManager");
    let mut errs = Vec::new();
    if manager.len() > FIELD_MANAGER_MAX {
        errs.push(FieldError::too_long(&path, FIELD_MANAGER_MAX));
    }
    for (i, c) in manager.char_indices() {
        // Go's unicode.IsPrint: graphic characters and the ASCII space only.
        if c != ' ' && (c.is_control() || c.is_whitespace()) {
            errs.push(FieldError::invalid(
                &path,
                manager,
                &format!("invalid character U+{:04X} (at position {i})", c as u32),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(manager: &str, verb: Verb) -> Option<String> {
        let params = Params {
            field_manager: Some(manager.into()),
            ..Params::default()
        };
        validate(&params, verb).err().map(|e| {
            assert_eq!(e.code, 422);
            e.message
        })
    }

    #[test]
    fn field_managers_are_short_and_printable() {
        assert_eq!(message("kubectl-client-side-apply", Verb::Patch), None);
        assert_eq!(message(&"m".repeat(128), Verb::Create), None);
        assert_eq!(
            message(&"m".repeat(129), Verb::Create).as_deref(),
            Some("CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes")
        );
        assert_eq!(
            message("a\tb", Verb::Update).as_deref(),
            Some("UpdateOptions.meta.k8s.io \"\" is invalid: fieldManager: Invalid value: \"a\\tb\": invalid character U+0009 (at position 1)")
        );
        assert_eq!(message(&"m".repeat(200), Verb::Get), None);
    }
}
