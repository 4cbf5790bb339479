//! Label and field selectors: parsing (upstream syntax and error wording) and matching, as
//! `k8s.io/apimachinery/pkg/labels` and `pkg/fields` do. Pure functions, no I/O.
//!
//! - [`LabelSelector`]: `labels.Parse` (`key=value`, `key==value`, `key!=value`,
//!   `key in (a,b)`, `key notin (a,b)`, `key`, `!key`, `key>1`, `key<1`), the
//!   `metav1.LabelSelector` object (`matchLabels` / `matchExpressions`) as
//!   `metav1.LabelSelectorAsSelector`, matching, and the canonical string form.
//! - [`FieldSelector`]: `fields.ParseSelector` (`f=v`, `f==v`, `f!=v`, with `\`-escaping of
//!   `\`, `,` and `=` in values) and matching over a field getter.
//! - [`SelectorError`]: parse errors whose `Display` is upstream's message text, ready to be
//!   put in a 400 BadRequest `Status`.
//!
//! Also exported: upstream's label key/value validators ([`is_qualified_name`],
//! [`is_valid_label_value`], [`is_dns1123_subdomain`]) returning upstream's messages.

mod field;
mod label;

pub use field::{
    escape_field_value, unescape_field_value, FieldOperator, FieldRequirement, FieldSelector,
};
pub use label::{LabelSelector, Operator, Requirement};

/// A selector that could not be parsed or built. `Display` is upstream's error text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// `labels.Parse` failed: a lexer/parser error (`found '', expected: identifier after ','`)
    /// or an invalid requirement (`unable to parse requirement: <nil>: Invalid value: ...`).
    #[error("{0}")]
    LabelSyntax(String),
    /// `labels.NewRequirement` failed: the aggregated field errors
    /// (`key: Invalid value: "-x": ...`, `values: Invalid value: null: ...`).
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `metav1.LabelSelector` `matchExpressions[].operator` outside
    /// In, NotIn, Exists, DoesNotExist.
    #[error("{} is not a valid label selector operator", go_quote(.0))]
    InvalidOperator(String),
    /// A `metav1.LabelSelector` value of the wrong JSON shape (upstream fails decoding).
    #[error("{0}")]
    Decode(String),
    /// `fields.ParseSelector`: a term without `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm {
        /// The whole selector string.
        selector: String,
        /// The term that has no operator.
        term: String,
    },
    /// `fields.UnescapeValue`: a backslash not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// `fields.UnescapeValue`: an unescaped `,` or `=` in a value (upstream prints the rune
    /// as its number, e.g. `61` for `=`).
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedCharacter(char),
}

// Upstream's name and label validation (shared with object validation).
pub use crate::validation::names::{is_dns1123_subdomain, is_qualified_name, is_valid_label_value};

// --- Go formatting helpers -------------------------------------------------------------------

pub(crate) use crate::validation::go_quote;

/// Go's `json.Marshal` of a `[]string` (`null` for a nil/empty slice as upstream passes it).
pub(crate) fn go_json_strings(vals: &[String]) -> String {
    if vals.is_empty() {
        return "null".to_owned();
    }
    let s = serde_json::to_string(vals).unwrap_or_default();
    // encoding/json escapes HTML-significant characters and the JS line separators.
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A `field.ErrorList` rendered as `ToAggregate().Error()`: duplicates dropped, one message
/// as is, several as `[a, b]`.
pub(crate) fn aggregate(errs: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        seen.pop().unwrap_or_default()
    } else {
        format!("[{}]", seen.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        for ok in [
            "a",
            "A",
            "1",
            "app",
            "app.kubernetes.io/name",
            "a-b_c.d",
            "example.com/MyName",
            "0.1.2.domain/99",
        ] {
            assert!(is_qualified_name(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            is_qualified_name("-x"),
            vec!["name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]
        );
        let e = is_qualified_name("");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0], "name part must be non-empty");
        assert_eq!(is_qualified_name(&"a".repeat(63)), Vec::<String>::new());
        assert_eq!(
            is_qualified_name(&"a".repeat(64)),
            vec!["name part must be no more than 63 characters"]
        );
        assert_eq!(
            is_qualified_name("/a"),
            vec!["prefix part must be non-empty"]
        );
        assert_eq!(
            is_qualified_name("Example.com/a"),
            vec!["prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
        );
        assert!(is_qualified_name("a/b/c")[0].starts_with("a qualified name must consist of"));
        assert!(is_qualified_name("a/b/c")[0].ends_with(
            " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
        let long_prefix = format!("{}/a", "a".repeat(254));
        assert_eq!(
            is_qualified_name(&long_prefix),
            vec!["prefix part must be no more than 253 characters"]
        );
        assert!(!is_qualified_name("a..b.com/x").is_empty());
    }

    #[test]
    fn label_values() {
        for ok in ["", "a", "a.b-c_d", "10.10.100.1", &"z".repeat(63)] {
            assert!(is_valid_label_value(ok).is_empty(), "{ok}");
        }
        assert_eq!(
            is_valid_label_value("-a"),
            vec!["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]
        );
        assert_eq!(
            is_valid_label_value(&"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
        assert_eq!(
            is_valid_label_value(&format!("{}-", "a".repeat(64))).len(),
            2
        );
    }

    #[test]
    fn go_formatting() {
        assert_eq!(
            go_quote("a\"b\\c\n\u{1}é\u{a0}"),
            "\"a\\\"b\\\\c\\n\\x01é\\u00a0\""
        );
        assert_eq!(go_json_strings(&[]), "null");
        assert_eq!(
            go_json_strings(&["a".into(), "<&>".into()]),
            r#"["a","\u003c\u0026\u003e"]"#
        );
        assert_eq!(aggregate(vec!["x".into()]), "x");
        assert_eq!(
            aggregate(vec!["x".into(), "y".into(), "x".into()]),
            "[x, y]"
        );
    }

    #[test]
    fn error_display() {
        assert_eq!(
            SelectorError::InvalidOperator("Foo".into()).to_string(),
            "\"Foo\" is not a valid label selector operator"
        );
        assert_eq!(
            SelectorError::UnescapedCharacter('=').to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            SelectorError::FieldTerm {
                selector: "a,b=c".into(),
                term: "a".into()
            }
            .to_string(),
            "invalid selector: 'a,b=c'; can't understand 'a'"
        );
    }
}
