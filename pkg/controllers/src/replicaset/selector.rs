//! Label selectors as `metav1.LabelSelectorAsSelector` reads them: a nil selector selects
//! nothing, an empty one everything.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// The selector, or `None` when it is nil or invalid (then it matches nothing).
pub(crate) fn parse(selector: Option<&LabelSelector>) -> Option<Selector> {
    parse_valid(selector?).ok()
}

/// The selector of a non-nil `LabelSelector`, or why it is invalid (upstream's
/// `LabelSelectorAsSelector` returning an error).
pub(crate) fn parse_valid(
    selector: &LabelSelector,
) -> Result<Selector, kube::core::labels::ParseExpressionError> {
    Selector::try_from(selector.clone())
}

pub(crate) fn matches(selector: &Selector, labels: Option<&BTreeMap<String, String>>) -> bool {
    selector.matches(labels.unwrap_or(&NO_LABELS))
}

/// Whether `selector` has no requirements at all (it would select every object).
pub(crate) fn is_empty(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nil_selects_nothing_empty_everything() {
        assert!(parse(None).is_none());
        let all = parse(Some(&LabelSelector::default())).unwrap();
        assert!(matches(&all, None));
        assert!(is_empty(&LabelSelector::default()));
    }

    #[test]
    fn labels_and_expressions() {
        let ls = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        };
        let sel = parse(Some(&ls)).unwrap();
        assert!(matches(&sel, Some(&labels(&[("app", "web")]))));
        assert!(matches(
            &sel,
            Some(&labels(&[("app", "web"), ("tier", "fe")]))
        ));
        assert!(!matches(
            &sel,
            Some(&labels(&[("app", "web"), ("tier", "db")]))
        ));
        assert!(!matches(&sel, Some(&labels(&[("app", "api")]))));
        assert!(!matches(&sel, None));
        assert!(!is_empty(&ls));
    }
}
