//! Query parameters of API requests.

use crate::status::{ApiError, ApiResult};

#[derive(Debug, Default, Clone)]
pub struct Params {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<i64>,
    pub continue_: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub watch: bool,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub timeout_seconds: Option<u64>,
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub field_validation: Option<String>,
    pub force: bool,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub orphan_dependents: Option<bool>,
    pub include_object: Option<String>,
    /// The request's User-Agent (not a query parameter): the field manager when
    /// `fieldManager` is not given.
    pub user_agent: Option<String>,
}

fn boolean(key: &str, v: &str) -> ApiResult<bool> {
    match v {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "invalid value for {key}: {v:?}: not a boolean"
        ))),
    }
}

fn integer<T: std::str::FromStr>(key: &str, v: &str) -> ApiResult<T> {
    v.parse().map_err(|_| {
        ApiError::bad_request(format!("invalid value for {key}: {v:?}: not an integer"))
    })
}

impl Params {
    pub fn parse(query: Option<&str>) -> ApiResult<Self> {
        let mut p = Params::default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
        for (k, v) in pairs {
            match k.as_str() {
                "labelSelector" => p.label_selector = Some(v),
                "fieldSelector" => p.field_selector = Some(v),
                "limit" => p.limit = Some(integer(&k, &v)?),
                "continue" => p.continue_ = Some(v).filter(|s| !s.is_empty()),
                "resourceVersion" => p.resource_version = Some(v).filter(|s| !s.is_empty()),
                "resourceVersionMatch" => {
                    p.resource_version_match = Some(v).filter(|s| !s.is_empty())
                }
                "watch" => p.watch = boolean(&k, &v)?,
                "allowWatchBookmarks" => p.allow_watch_bookmarks = boolean(&k, &v)?,
                "sendInitialEvents" => p.send_initial_events = Some(boolean(&k, &v)?),
                "timeoutSeconds" => p.timeout_seconds = Some(integer(&k, &v)?),
                "dryRun" => {
                    if v != "All" {
                        return Err(ApiError::bad_request(format!(
                            "Unsupported value: {v:?}: supported values: \"All\""
                        )));
                    }
                    p.dry_run = true;
                }
                "fieldManager" => p.field_manager = Some(v),
                "fieldValidation" => p.field_validation = Some(v),
                "force" => p.force = boolean(&k, &v)?,
                "gracePeriodSeconds" => p.grace_period_seconds = Some(integer(&k, &v)?),
                "propagationPolicy" => p.propagation_policy = Some(v),
                "orphanDependents" => p.orphan_dependents = Some(boolean(&k, &v)?),
                "includeObject" => p.include_object = Some(v),
                // pretty, timeout and the like change nothing we serve.
                _ => {}
            }
        }
        if let Some(fv) = &p.field_validation {
            if !matches!(fv.as_str(), "Strict" | "Warn" | "Ignore") {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation invalid value: {fv}, valid values are Ignore, Warn, Strict"
                )));
            }
        }
        Ok(p)
    }
}
