//! Field selectors, as `k8s.io/apimachinery/pkg/fields` (`ParseSelector`, `EscapeValue`,
//! `UnescapeValue`, `Selector.Matches`, `Selector.String`, `Selector.Transform`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::SelectorError;

/// A field requirement's operator. `f==v` parses as [`FieldOperator::Equals`], as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `f=v` or `f==v`
    Equals,
    /// `f!=v`
    NotEquals,
}

impl FieldOperator {
    /// `=` or `!=`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        }
    }
}

impl fmt::Display for FieldOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One term of a field selector: `field op value` (the value unescaped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    /// The field path, e.g. `metadata.name`, `spec.nodeName`, `status.phase` (taken as
    /// written: upstream supports no escaping, and does no trimming, on the left-hand side).
    pub field: String,
    /// `=`/`==` or `!=`.
    pub operator: FieldOperator,
    /// The value, unescaped.
    pub value: String,
}

impl FieldRequirement {
    /// Whether a field value (`None` when absent, which counts as "") satisfies the term.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        let v = value.unwrap_or("");
        match self.operator {
            FieldOperator::Equals => v == self.value,
            FieldOperator::NotEquals => v != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.field,
            self.operator,
            escape_field_value(&self.value)
        )
    }
}

/// A field selector: the AND of its terms. The default value is the empty selector, which
/// matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The empty selector (`fields.Everything()`).
    pub fn everything() -> FieldSelector {
        FieldSelector::default()
    }

    /// `fields.OneTermEqualSelector`: `field=value`.
    pub fn one_term_equal(field: impl Into<String>, value: impl Into<String>) -> FieldSelector {
        FieldSelector {
            requirements: vec![FieldRequirement {
                field: field.into(),
                operator: FieldOperator::Equals,
                value: value.into(),
            }],
        }
    }

    /// `fields.OneTermNotEqualSelector`: `field!=value`.
    pub fn one_term_not_equal(field: impl Into<String>, value: impl Into<String>) -> FieldSelector {
        FieldSelector {
            requirements: vec![FieldRequirement {
                field: field.into(),
                operator: FieldOperator::NotEquals,
                value: value.into(),
            }],
        }
    }

    /// `fields.ParseSelector`: comma-separated `f=v`, `f==v`, `f!=v` terms (empty terms
    /// skipped). In values, `\\`, `\,` and `\=` stand for `\`, `,` and `=`; an unescaped `,`
    /// separates terms. The terms are kept sorted by their text, as upstream. Errors:
    /// `invalid selector: 'x'; can't understand 'x'`, `invalid field selector: invalid escape
    /// sequence: \x`, `invalid field selector: unescaped character in value: 61`.
    pub fn parse(selector: &str) -> Result<FieldSelector, SelectorError> {
        let mut parts = split_terms(selector);
        parts.sort_unstable();
        let mut requirements = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(SelectorError::FieldTerm {
                    selector: selector.to_owned(),
                    term: part.to_owned(),
                });
            };
            let value = unescape_field_value(rhs)?;
            requirements.push(FieldRequirement {
                field: lhs.to_owned(),
                operator: op,
                value,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// Whether the selector restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms, in the selector's order.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// The fields the selector uses (with repeats), so a caller can reject unsupported ones.
    pub fn fields(&self) -> impl Iterator<Item = &str> + '_ {
        self.requirements.iter().map(|r| r.field.as_str())
    }

    /// `Selector.RequiresExactMatch`: the value of the first `field=value` term, if any.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.operator == FieldOperator::Equals && r.field == field)
            .map(|r| r.value.as_str())
    }

    /// Whether every term holds, given a lookup of a field's value (an absent field is "",
    /// as upstream's `fields.Set`).
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches_value(get(&r.field).as_deref()))
    }

    /// Whether every term holds over a set of field values.
    pub fn matches_set(&self, fields: &BTreeMap<String, String>) -> bool {
        self.requirements
            .iter()
            .all(|r| r.matches_value(fields.get(&r.field).map(String::as_str)))
    }

    /// `Selector.Transform`: rewrite every term's (field, value), as the API server's field
    /// label conversion does; a term rewritten to ("", "") is dropped. The first error is
    /// returned.
    pub fn transform<E>(
        &self,
        mut f: impl FnMut(&str, &str) -> Result<(String, String), E>,
    ) -> Result<FieldSelector, E> {
        let mut requirements = Vec::with_capacity(self.requirements.len());
        for r in &self.requirements {
            let (field, value) = f(&r.field, &r.value)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            requirements.push(FieldRequirement {
                field,
                operator: r.operator,
                value,
            });
        }
        Ok(FieldSelector { requirements })
    }
}

impl fmt::Display for FieldSelector {
    /// `Selector.String()`: the terms joined by `,`, values escaped (`f=v`, `f!=v`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldSelector::parse(s)
    }
}

/// `fields.EscapeValue`: `\` → `\\`, `,` → `\,`, `=` → `\=`.
pub fn escape_field_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `fields.UnescapeValue`: the inverse of [`escape_field_value`]; any other escape, a
/// trailing `\`, or an unescaped `,` or `=` is an error.
pub fn unescape_field_value(s: &str) -> Result<String, SelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => return Err(SelectorError::InvalidEscape(format!("\\{c}"))),
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return Err(SelectorError::UnescapedCharacter(c)),
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError::InvalidEscape("\\".to_owned()));
    }
    Ok(out)
}

/// Split on commas not escaped by a backslash (the backslashes are kept).
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Split at the first `!=`, `==` or `=` (tried in that order at each position).
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, kind) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some((&term[..i], kind, rhs));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> FieldSelector {
        FieldSelector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn reqs(s: &str) -> Vec<(String, FieldOperator, String)> {
        parse(s)
            .requirements()
            .iter()
            .map(|r| (r.field.clone(), r.operator, r.value.clone()))
            .collect()
    }

    fn t(f: &str, op: FieldOperator, v: &str) -> (String, FieldOperator, String) {
        (f.to_owned(), op, v.to_owned())
    }

    use FieldOperator::{Equals as Eq, NotEquals as Ne};

    #[test]
    fn parse_terms() {
        assert_eq!(reqs(""), vec![]);
        assert_eq!(reqs(","), vec![]);
        assert_eq!(
            reqs("metadata.name=foo"),
            vec![t("metadata.name", Eq, "foo")]
        );
        assert_eq!(
            reqs("metadata.name==foo"),
            vec![t("metadata.name", Eq, "foo")]
        );
        assert_eq!(
            reqs("status.phase!=Running"),
            vec![t("status.phase", Ne, "Running")]
        );
        assert_eq!(
            reqs("spec.nodeName=n1,metadata.namespace=default"),
            vec![
                t("metadata.namespace", Eq, "default"),
                t("spec.nodeName", Eq, "n1")
            ]
        );
        assert_eq!(reqs("a=,b!="), vec![t("a", Eq, ""), t("b", Ne, "")]);
        assert_eq!(reqs("=a"), vec![t("", Eq, "a")]);
        assert_eq!(reqs("a=!b"), vec![t("a", Eq, "!b")]);
        assert_eq!(reqs("a =  b"), vec![t("a ", Eq, "  b")]);
        assert_eq!(reqs("x=a,,y=b,"), vec![t("x", Eq, "a"), t("y", Eq, "b")]);
        assert_eq!(reqs("a!b=c"), vec![t("a!b", Eq, "c")]);
        // Escapes in values.
        assert_eq!(reqs(r"a=b\,c"), vec![t("a", Eq, "b,c")]);
        assert_eq!(reqs(r"a=b\=c\\d"), vec![t("a", Eq, r"b=c\d")]);
        assert_eq!(
            reqs(r"a=b\,c,d=e"),
            vec![t("a", Eq, "b,c"), t("d", Eq, "e")]
        );
        assert_eq!(reqs(r"a!=\\"), vec![t("a", Ne, r"\")]);
        assert_eq!(reqs("a=é\\,ü"), vec![t("a", Eq, "é,ü")]);
        assert_eq!(
            parse("metadata.name=x").fields().collect::<Vec<_>>(),
            ["metadata.name"]
        );
        assert_eq!(
            parse("b=1,a=2,b!=3").fields().collect::<Vec<_>>(),
            ["a", "b", "b"]
        );
        assert!(parse("").is_empty());
        assert!(!parse("a=b").is_empty());
        assert_eq!(
            "a=b".parse::<FieldSelector>(),
            Ok(FieldSelector::one_term_equal("a", "b"))
        );
    }

    #[test]
    fn parse_errors() {
        let e = |s: &str| FieldSelector::parse(s).unwrap_err();
        assert_eq!(
            e("x").to_string(),
            "invalid selector: 'x'; can't understand 'x'"
        );
        assert_eq!(
            e("a=b,x").to_string(),
            "invalid selector: 'a=b,x'; can't understand 'x'"
        );
        assert_eq!(
            e("a!b").to_string(),
            "invalid selector: 'a!b'; can't understand 'a!b'"
        );
        assert_eq!(
            e("a=b=c").to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            e("a==b=c").to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            e("a===b").to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            e(r"a=b\x").to_string(),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            e(r"a=b\!").to_string(),
            r"invalid field selector: invalid escape sequence: \!"
        );
        assert_eq!(
            e(r"a=b\").to_string(),
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            e(r"a\,b").to_string(),
            r"invalid selector: 'a\,b'; can't understand 'a\,b'"
        );
        assert_eq!(
            e("a=b\\\u{e9}").to_string(),
            "invalid field selector: invalid escape sequence: \\\u{e9}"
        );
        assert!(matches!(e("a=b=c"), SelectorError::UnescapedCharacter('=')));
        assert_eq!(
            unescape_field_value("a,b").unwrap_err().to_string(),
            "invalid field selector: unescaped character in value: 44"
        );
    }

    #[test]
    fn escaping() {
        for v in ["", "plain", "a,b", "a=b", r"a\b", r"\,=\\", "x!=y", "é=ü"] {
            assert_eq!(
                unescape_field_value(&escape_field_value(v)).as_deref(),
                Ok(v),
                "{v:?}"
            );
        }
        assert_eq!(escape_field_value(r"a\b,c=d"), r"a\\b\,c\=d");
    }

    #[test]
    fn display_round_trip() {
        for s in [
            "",
            "metadata.name=foo",
            "a=1,b!=2",
            r"a=x\,y\=z\\w",
            "a=",
            "a!=",
        ] {
            let sel = parse(s);
            assert_eq!(sel.to_string(), s);
            assert_eq!(parse(&sel.to_string()), sel);
        }
        assert_eq!(parse("b==2,a=1").to_string(), "a=1,b=2");
        assert_eq!(
            FieldSelector::one_term_not_equal("a", "b,c").to_string(),
            r"a!=b\,c"
        );
    }

    #[test]
    fn matching() {
        let get = |k: &str| match k {
            "metadata.name" => Some("foo".to_owned()),
            "status.phase" => Some("Running".to_owned()),
            _ => None,
        };
        assert!(parse("").matches(get));
        assert!(parse("metadata.name=foo").matches(get));
        assert!(parse("metadata.name==foo,status.phase!=Pending").matches(get));
        assert!(!parse("metadata.name=bar").matches(get));
        assert!(!parse("metadata.name=foo,status.phase=Pending").matches(get));
        assert!(!parse("status.phase!=Running").matches(get));
        // Absent fields are "".
        assert!(parse("spec.nodeName=").matches(get));
        assert!(parse("spec.nodeName!=n1").matches(get));
        assert!(!parse("spec.nodeName=n1").matches(get));
        assert!(!parse("spec.nodeName!=").matches(get));
        let set: BTreeMap<String, String> =
            [("a".to_owned(), "x,y".to_owned())].into_iter().collect();
        assert!(parse(r"a=x\,y").matches_set(&set));
        assert!(parse("b=").matches_set(&set));
        assert!(!parse("a=x").matches_set(&set));
    }

    #[test]
    fn exact_match_and_transform() {
        let s = parse("a!=1,b=2,c==3");
        assert_eq!(s.requires_exact_match("a"), None);
        assert_eq!(s.requires_exact_match("b"), Some("2"));
        assert_eq!(s.requires_exact_match("c"), Some("3"));
        assert_eq!(s.requires_exact_match("d"), None);

        let t = s
            .transform(|f, v| match f {
                "a" => Ok((String::new(), String::new())),
                "b" => Ok(("spec.b".to_owned(), v.to_owned())),
                _ => Ok::<_, String>((f.to_owned(), v.to_uppercase())),
            })
            .unwrap();
        assert_eq!(t.to_string(), "spec.b=2,c=3");
        let err = s.transform(|f, _| {
            Err::<(String, String), _>(format!("field label not supported: {f}"))
        });
        assert_eq!(err, Err("field label not supported: a".to_owned()));
    }
}
