//! Upstream's ValidateListOptions: the combinations of resourceVersion, resourceVersionMatch,
//! continue and sendInitialEvents a list or a watch accepts. Others are a 422 on ListOptions
//! (meta.k8s.io), before anything is read.

use rkube_api::{
    validation::{FieldError, Path},
    ResourceDef,
};

use crate::{
    params::Params,
    status::{ApiError, ApiResult},
};

/// The kind upstream's errors name.
static LIST_OPTIONS: ResourceDef = super::write_options::options_kind("ListOptions");

pub fn validate(params: &Params, watch: bool) -> ApiResult<()> {
    let errs = if watch {
        watch_errors(params)
    } else {
        list_errors(params)
    };
    if !errs.is_empty() {
        return Err(ApiError::invalid(&LIST_OPTIONS, "", &errs));
    }
    let rv = params.resource_version.as_deref().unwrap_or_default();
    let cont = params.continue_.as_deref().unwrap_or_default();
    // The storage layer's check, after validation (hence a 400, as upstream).
    if !watch && !cont.is_empty() && !rv.is_empty() && rv != "0" {
        return Err(ApiError::bad_request(
            "specifying resource version is not allowed when using continue",
        ));
    }
    Ok(())
}

fn list_errors(params: &Params) -> Vec<FieldError> {
    let rvm = Path::new("resourceVersionMatch");
    let mut errs = Vec::new();
    if let Some(m) = params.resource_version_match.as_deref() {
        let rv = params.resource_version.as_deref().unwrap_or_default();
        if rv.is_empty() {
            errs.push(FieldError::forbidden(
                &rvm,
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if params.continue_.as_deref().is_some_and(|c| !c.is_empty()) {
            errs.push(FieldError::forbidden(
                &rvm,
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if m != "Exact" && m != "NotOlderThan" {
            errs.push(FieldError::not_supported(
                &rvm,
                m,
                &["Exact", "NotOlderThan", ""],
            ));
        }
        if m == "Exact" && rv == "0" {
            errs.push(FieldError::forbidden(
                &rvm,
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if params.send_initial_events.is_some() {
        errs.push(FieldError::forbidden(
            &Path::new("sendInitialEvents"),
            "sendInitialEvents is forbidden for list",
        ));
    }
    errs
}

/// The WatchList feature is on, as in the Kubernetes versions served.
fn watch_errors(params: &Params) -> Vec<FieldError> {
    let rvm = Path::new("resourceVersionMatch");
    let mut errs = Vec::new();
    let m = params.resource_version_match.as_deref();
    if params.send_initial_events.is_some() && m != Some("NotOlderThan") {
        errs.push(FieldError::forbidden(
            &rvm,
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    if let Some(m) = m {
        if params.send_initial_events.is_none() {
            errs.push(FieldError::forbidden(
                &rvm,
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if m != "NotOlderThan" {
            errs.push(FieldError::not_supported(&rvm, m, &["NotOlderThan"]));
        }
        if params.continue_.as_deref().is_some_and(|c| !c.is_empty()) {
            errs.push(FieldError::forbidden(
                &rvm,
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let q: String = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        Params::parse(Some(&q)).unwrap()
    }

    fn message(p: &[(&str, &str)], watch: bool) -> Option<(u16, String)> {
        validate(&params(p), watch)
            .err()
            .map(|e| (e.code, e.message))
    }

    #[test]
    fn lists_refuse_what_upstream_refuses() {
        assert_eq!(message(&[("resourceVersion", "5")], false), None);
        assert_eq!(
            message(
                &[("resourceVersion", "5"), ("resourceVersionMatch", "Exact")],
                false
            ),
            None
        );
        assert_eq!(
            message(&[("sendInitialEvents", "false")], false),
            Some((422, "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list".into()))
        );
        assert_eq!(
            message(&[("resourceVersionMatch", "NotOlderThan")], false),
            Some((422, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided".into()))
        );
        assert_eq!(
            message(&[("resourceVersion", "5"), ("continue", "abc")], false),
            Some((
                400,
                "specifying resource version is not allowed when using continue".into()
            ))
        );
        assert_eq!(
            message(&[("resourceVersion", "0"), ("continue", "abc")], false),
            None
        );
    }

    #[test]
    fn watches_refuse_what_upstream_refuses() {
        assert_eq!(message(&[("resourceVersion", "5")], true), None);
        let ok = [
            ("sendInitialEvents", "true"),
            ("resourceVersionMatch", "NotOlderThan"),
        ];
        assert_eq!(message(&ok, true), None);
        assert_eq!(
            message(&[("sendInitialEvents", "true")], true),
            Some((422, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan".into()))
        );
        assert_eq!(
            message(&[("resourceVersion", "5"), ("resourceVersionMatch", "NotOlderThan")], true),
            Some((422, "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided".into()))
        );
    }
}
