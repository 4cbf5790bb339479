//! Label selectors, as `k8s.io/apimachinery/pkg/labels` (`Parse`, `NewRequirement`,
//! `Selector.Matches`, `Selector.String`) and `metav1.LabelSelectorAsSelector`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::{
    aggregate, go_json_strings, go_quote, is_qualified_name, is_valid_label_value, SelectorError,
};

/// A requirement's operator (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`
    NotIn,
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value`
    NotEquals,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>1` (integer comparison)
    GreaterThan,
    /// `key<1` (integer comparison)
    LessThan,
}

impl Operator {
    /// Upstream's `selection.Operator` string: `in`, `notin`, `=`, `==`, `!=`, `exists`, `!`,
    /// `gt`, `lt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One requirement of a label selector: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// `labels.NewRequirement`: validates the key (qualified name), the number of values
    /// for the operator, the values (label values; integers for `>`/`<`). The error is
    /// upstream's aggregated field-error text, e.g.
    /// `values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty`.
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Requirement, SelectorError> {
        let key = key.into();
        let mut errs = Vec::new();
        if let Err(e) = validate_label_key(&key, "key") {
            errs.push(e);
        }
        let vals_json = || go_json_strings(&values);
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(format!(
                        "values: Invalid value: {}: for 'in', 'notin' operators, values set can't be empty",
                        vals_json()
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {}: exact-match compatibility requires one single value",
                        vals_json()
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(format!(
                        "values: Invalid value: {}: values set must be empty for exists and does not exist",
                        vals_json()
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {}: for 'Gt', 'Lt' operators, exactly one value is required",
                        vals_json()
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!(
                            "values[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                            go_quote(v)
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let problems = is_valid_label_value(v);
            if !problems.is_empty() {
                errs.push(format!(
                    "values[{i}][{key}]: Invalid value: {}: {}",
                    go_quote(v),
                    problems.join("; ")
                ));
            }
        }
        if errs.is_empty() {
            Ok(Requirement {
                key,
                operator,
                values,
            })
        } else {
            Err(SelectorError::InvalidRequirement(aggregate(errs)))
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values (empty for `Exists`/`DoesNotExist`; parsed selectors hold them sorted and
    /// deduplicated).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }

    /// `Requirement.Matches` given the label's value (`None` when the label is absent).
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(have)) = value.map(str::parse::<i64>) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream `Requirement.String()`: `!key`, `key`, `key=v`, `key==v`, `key!=v`, `key>v`,
    /// `key<v`, `key in (a,b)`, `key notin (a,b)` (values sorted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in (",
            Operator::NotIn => " notin (",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        f.write_str(op)?;
        let mut vals: Vec<&str> = self.values.iter().map(String::as_str).collect();
        vals.sort_unstable();
        f.write_str(&vals.join(","))?;
        if matches!(self.operator, Operator::In | Operator::NotIn) {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector: the AND of its requirements, kept sorted by key (stable).
///
/// The default value is the empty selector, which matches everything. [`LabelSelector::nothing`]
/// (upstream `labels.Nothing()`, what a `null` `metav1.LabelSelector` converts to) matches
/// nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// The empty selector: matches every object (`labels.Everything()`).
    pub fn everything() -> LabelSelector {
        LabelSelector::default()
    }

    /// The selector that matches no object (`labels.Nothing()`); renders as "".
    pub fn nothing() -> LabelSelector {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// `labels.Parse`: the query-string syntax
    /// (`app=web,tier in (a,b),!canary,env!=prod,x`). An empty string is the empty selector.
    pub fn parse(s: &str) -> Result<LabelSelector, SelectorError> {
        let mut parser = Parser::new(s);
        let mut requirements = parser.parse().map_err(SelectorError::LabelSyntax)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// `labels.SelectorFromSet`: `key=value` for each entry, no validation (as upstream). An
    /// empty map is the empty selector.
    pub fn from_set(set: &BTreeMap<String, String>) -> LabelSelector {
        let requirements = set
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::Equals,
                values: vec![v.clone()],
            })
            .collect();
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// `metav1.LabelSelectorAsSelector` of a JSON `metav1.LabelSelector`
    /// (`{"matchLabels": {..}, "matchExpressions": [{"key", "operator", "values"}]}`).
    /// `null` gives [`LabelSelector::nothing`]; an object with no labels and no expressions
    /// gives the empty selector (matches everything). Operators are `In`, `NotIn`, `Exists`,
    /// `DoesNotExist`; errors are upstream's (`"Foo" is not a valid label selector operator`,
    /// `key: Invalid value: ...`, `values: Invalid value: null: for 'in', 'notin' operators,
    /// values set can't be empty`).
    pub fn from_json(v: &Value) -> Result<LabelSelector, SelectorError> {
        let obj = match v {
            Value::Null => return Ok(LabelSelector::nothing()),
            Value::Object(o) => o,
            other => {
                return Err(decode_error(other, "", "v1.LabelSelector"));
            }
        };
        let mut requirements = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => {
                for (k, v) in labels {
                    let Value::String(v) = v else {
                        return Err(decode_error(v, "LabelSelector.matchLabels", "string"));
                    };
                    requirements.push(Requirement::new(
                        k.clone(),
                        Operator::Equals,
                        vec![v.clone()],
                    )?);
                }
            }
            Some(other) => {
                return Err(decode_error(
                    other,
                    "LabelSelector.matchLabels",
                    "map[string]string",
                ))
            }
        }
        match obj.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for expr in exprs {
                    requirements.push(requirement_from_json(expr)?);
                }
            }
            Some(other) => {
                return Err(decode_error(
                    other,
                    "LabelSelector.matchExpressions",
                    "[]v1.LabelSelectorRequirement",
                ));
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// `metav1.FormatLabelSelector`: the canonical string of a JSON `metav1.LabelSelector`,
    /// `<none>` when it is empty or null, `<error>` when it is invalid (as kubectl's SELECTOR
    /// column).
    pub fn format_json(v: Option<&Value>) -> String {
        match LabelSelector::from_json(v.unwrap_or(&Value::Null)) {
            Err(_) => "<error>".to_owned(),
            Ok(s) => {
                let s = s.to_string();
                if s.is_empty() {
                    "<none>".to_owned()
                } else {
                    s
                }
            }
        }
    }

    /// Whether the selector restricts nothing (`Selector.Empty()`): true for the empty
    /// selector, false for [`LabelSelector::nothing`].
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether this is [`LabelSelector::nothing`].
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// `Selector.RequiresExactMatch`: the single value the selector requires for `key`
    /// (from `key=v`, `key==v` or `key in (v)`), if any.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }

    /// Whether the labels satisfy every requirement, given a lookup of a label's value.
    pub fn matches_with<F, S>(&self, get: F) -> bool
    where
        F: Fn(&str) -> Option<S>,
        S: AsRef<str>,
    {
        !self.nothing
            && self.requirements.iter().all(|r| {
                let v = get(&r.key);
                r.matches_value(v.as_ref().map(AsRef::as_ref))
            })
    }

    /// Whether the label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|k| labels.get(k))
    }

    /// Whether a JSON label map (an object's `metadata.labels`, `None` or `null` when it has
    /// none) satisfies every requirement. Non-string values count as their JSON text.
    pub fn matches_json(&self, labels: Option<&Value>) -> bool {
        let map = labels.and_then(Value::as_object);
        self.matches_with(|k| match map?.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
    }
}

impl fmt::Display for LabelSelector {
    /// `Selector.String()`: the requirements, sorted by key, joined by `,`
    /// (e.g. `app=web,tier in (a,b)`); empty for the empty selector and for nothing.
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

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LabelSelector::parse(s)
    }
}

fn validate_label_key(key: &str, path: &str) -> Result<(), String> {
    let problems = is_qualified_name(key);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{path}: Invalid value: {}: {}",
            go_quote(key),
            problems.join("; ")
        ))
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// encoding/json's `UnmarshalTypeError` text.
fn decode_error(v: &Value, field: &str, go_type: &str) -> SelectorError {
    if field.is_empty() {
        SelectorError::Decode(format!(
            "json: cannot unmarshal {} into Go value of type {go_type}",
            json_kind(v)
        ))
    } else {
        SelectorError::Decode(format!(
            "json: cannot unmarshal {} into Go struct field {field} of type {go_type}",
            json_kind(v)
        ))
    }
}

fn requirement_from_json(expr: &Value) -> Result<Requirement, SelectorError> {
    let obj = match expr {
        Value::Object(o) => o,
        Value::Null => &serde_json::Map::new(),
        other => {
            return Err(decode_error(
                other,
                "LabelSelector.matchExpressions",
                "v1.LabelSelectorRequirement",
            ))
        }
    };
    let string_field = |name: &str| -> Result<String, SelectorError> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(decode_error(
                other,
                &format!("LabelSelectorRequirement.matchExpressions.{name}"),
                "string",
            )),
        }
    };
    let key = string_field("key")?;
    let operator = string_field("operator")?;
    let mut values = Vec::new();
    match obj.get("values") {
        None | Some(Value::Null) => {}
        Some(Value::Array(vs)) => {
            for v in vs {
                match v {
                    Value::String(s) => values.push(s.clone()),
                    Value::Null => values.push(String::new()),
                    other => {
                        return Err(decode_error(
                            other,
                            "LabelSelectorRequirement.matchExpressions.values",
                            "string",
                        ));
                    }
                }
            }
        }
        Some(other) => {
            return Err(decode_error(
                other,
                "LabelSelectorRequirement.matchExpressions.values",
                "[]string",
            ))
        }
    }
    let op = match operator.as_str() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        _ => return Err(SelectorError::InvalidOperator(operator)),
    };
    Requirement::new(key, op, values)
}

// --- lexer and parser (a port of upstream's, byte for byte) ---------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn literal_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(ch: u8) -> bool {
    matches!(ch, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    /// The next byte, 0 at the end (a NUL byte in the input reads as 0 too, as upstream).
    fn read(&mut self) -> u8 {
        match self.s.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos -= 1;
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let mut buf = Vec::new();
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) || is_whitespace(ch) {
                self.unread();
                break;
            }
            buf.push(ch);
        }
        let tok = literal_token(&buf).unwrap_or(Token::Identifier);
        (tok, String::from_utf8_lossy(&buf).into_owned())
    }

    fn scan_special_symbol(&mut self) -> (Token, String) {
        let mut last: Option<(Token, usize)> = None;
        let mut buf = Vec::new();
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if !is_special_symbol(ch) {
                self.unread();
                break;
            }
            buf.push(ch);
            if let Some(tok) = literal_token(&buf) {
                last = Some((tok, buf.len()));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        match last {
            Some((tok, n)) => (tok, String::from_utf8_lossy(&buf[..n]).into_owned()),
            None => (
                Token::Error,
                format!(
                    "error expected: keyword found '{}'",
                    String::from_utf8_lossy(&buf)
                ),
            ),
        }
    }

    fn lex(&mut self) -> (Token, String) {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            (Token::EndOfString, String::new())
        } else if is_special_symbol(ch) {
            self.unread();
            self.scan_special_symbol()
        } else {
            self.unread();
            self.scan_id_or_keyword()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn new(s: &str) -> Parser {
        let mut lexer = Lexer {
            s: s.as_bytes(),
            pos: 0,
        };
        let mut items = Vec::new();
        loop {
            let (tok, lit) = lexer.lex();
            let end = tok == Token::EndOfString;
            items.push((tok, lit));
            if end {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn item(&self, i: usize, ctx: Context) -> (Token, String) {
        let (tok, lit) = self
            .items
            .get(i)
            .cloned()
            .unwrap_or((Token::EndOfString, String::new()));
        let tok = match tok {
            Token::In | Token::NotIn if ctx == Context::Values => Token::Identifier,
            t => t,
        };
        (tok, lit)
    }

    fn lookahead(&self, ctx: Context) -> (Token, String) {
        self.item(self.position, ctx)
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        self.position += 1;
        self.item(self.position - 1, ctx)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return Requirement::new(key, op, Vec::new()).map_err(|e| e.to_string());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(key, op, values).map_err(|e| e.to_string())
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        // Upstream validates with the parser's (nil) path.
        validate_label_key(&lit, "<nil>")?;
        let (t, _) = self.lookahead(Context::Values);
        if (t == Token::EndOfString || t == Token::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{lit}', expected: {BINARY_OPERATORS}")),
        })
    }

    /// `(a,b,c)`: the values as a sorted set (upstream's `sets.String.List()`).
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let s = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Context::Values);
                if tok != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut set = std::collections::BTreeSet::new();
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    set.insert(lit);
                    let (tok2, lit2) = self.lookahead(Context::Values);
                    match tok2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set.into_iter().collect()),
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    let (tok2, _) = self.lookahead(Context::Values);
                    if tok2 == Token::ClosedPar {
                        set.insert(String::new());
                        return Ok(set.into_iter().collect());
                    }
                    if tok2 == Token::Comma {
                        self.consume(Context::Values);
                        set.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Context::Values);
        if tok == Token::EndOfString || tok == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            Ok(vec![lit])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn err(s: &str) -> String {
        match LabelSelector::parse(s) {
            Ok(sel) => panic!("{s:?} parsed as {sel}"),
            Err(e) => e.to_string(),
        }
    }

    fn tokens(s: &str) -> Vec<(Token, String)> {
        Parser::new(s).items
    }

    #[test]
    fn lexer_single_tokens() {
        for (s, t) in [
            ("", Token::EndOfString),
            (",", Token::Comma),
            ("notin", Token::NotIn),
            ("in", Token::In),
            ("=", Token::Equals),
            ("==", Token::DoubleEquals),
            (">", Token::GreaterThan),
            ("<", Token::LessThan),
            ("!", Token::DoesNotExist),
            ("!=", Token::NotEquals),
            ("(", Token::OpenPar),
            (")", Token::ClosedPar),
            ("~", Token::Identifier),
            ("||", Token::Identifier),
        ] {
            let mut l = Lexer {
                s: s.as_bytes(),
                pos: 0,
            };
            assert_eq!(l.lex(), (t, s.to_owned()), "{s:?}");
        }
    }

    #[test]
    fn lexer_sequences() {
        use Token::*;
        for (s, want) in [
            (
                "key in ( value )",
                vec![Identifier, In, OpenPar, Identifier, ClosedPar],
            ),
            (
                "key notin ( value )",
                vec![Identifier, NotIn, OpenPar, Identifier, ClosedPar],
            ),
            (
                "key in ( value1, value2 )",
                vec![
                    Identifier, In, OpenPar, Identifier, Comma, Identifier, ClosedPar,
                ],
            ),
            ("key", vec![Identifier]),
            ("!key", vec![DoesNotExist, Identifier]),
            ("()", vec![OpenPar, ClosedPar]),
            (
                "x in (),y",
                vec![Identifier, In, OpenPar, ClosedPar, Comma, Identifier],
            ),
            (
                "== != (), = notin",
                vec![
                    DoubleEquals,
                    NotEquals,
                    OpenPar,
                    ClosedPar,
                    Comma,
                    Equals,
                    NotIn,
                ],
            ),
            ("key>2", vec![Identifier, GreaterThan, Identifier]),
            ("key<1", vec![Identifier, LessThan, Identifier]),
            ("a===b", vec![Identifier, DoubleEquals, Equals, Identifier]),
            ("a!==b", vec![Identifier, NotEquals, Equals, Identifier]),
            ("!!a", vec![DoesNotExist, DoesNotExist, Identifier]),
        ] {
            let mut got: Vec<Token> = tokens(s).into_iter().map(|(t, _)| t).collect();
            assert_eq!(got.pop(), Some(EndOfString));
            assert_eq!(got, want, "{s:?}");
        }
        let lits: Vec<String> = tokens("a.b/c-d in (x_1,  y)")
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        assert_eq!(lits, ["a.b/c-d", "in", "(", "x_1", ",", "y", ")", ""]);
    }

    #[test]
    fn parse_good_round_trip() {
        // Upstream TestSelectorParse: String() equals the input without spaces.
        for s in [
            "x=a,y=b,z=c",
            "",
            "x!=a,y=b",
            "x=",
            "x= ",
            "x=,z= ",
            "x= ,z= ",
            "!x",
            "x>1",
            "x>1,z<5",
        ] {
            assert_eq!(parse(s).to_string(), s.replace(' ', ""), "{s:?}");
        }
        assert_eq!(parse("x=a,a=x").to_string(), parse("a=x,x=a").to_string());
        assert_eq!(parse("x=a,a=x").to_string(), "a=x,x=a");
    }

    #[test]
    fn parse_set_based() {
        let cases: &[(&str, &str)] = &[
            ("\rx", "x"),
            (
                "this-is-a-dns.domain.com/key-with-dash",
                "this-is-a-dns.domain.com/key-with-dash",
            ),
            (
                "this-is-another-dns.domain.com/key-with-dash in (so,what)",
                "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            ),
            (
                "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
                "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
            ),
            ("foo  in\t (abc)", "foo in (abc)"),
            ("x notin\n (abc)", "x notin (abc)"),
            ("x  notin\t\t\t(abc,def)", "x notin (abc,def)"),
            ("x in (abc,def)", "x in (abc,def)"),
            ("x in (def,abc,def)", "x in (abc,def)"),
            ("x in (abc,)", "x in (,abc)"),
            ("x in ()", "x in ()"),
            ("x in (,)", "x in ()"),
            ("x in (,,a)", "x in (,a)"),
            ("x in (a,,,b)", "x in (,a,b)"),
            (
                "x notin (abc,,def),bar,z in (),w",
                "bar,w,x notin (,abc,def),z in ()",
            ),
            ("x,y in (a)", "x,y in (a)"),
            ("x=a", "x=a"),
            ("x>1", "x>1"),
            ("x<7", "x<7"),
            ("x=a,y!=b", "x=a,y!=b"),
            ("x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"),
            ("x in (in)", "x in (in)"),
            ("in in (notin)", "in in (notin)"),
            ("notin=in", "notin=in"),
            ("x==a", "x==a"),
            (
                "  app = web ,  tier  in  ( a , b ) ",
                "app=web,tier in (a,b)",
            ),
            ("!a,b", "!a,b"),
            ("example.com/MyName=v", "example.com/MyName=v"),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).to_string(), *want, "{input:?}");
        }
        let s = parse("x notin (abc,,def),bar,z in (),w");
        let summary: Vec<(&str, Operator, Vec<&str>)> = s
            .requirements()
            .iter()
            .map(|r| {
                (
                    r.key(),
                    r.operator(),
                    r.values().iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("bar", Operator::Exists, vec![]),
                ("w", Operator::Exists, vec![]),
                ("x", Operator::NotIn, vec!["", "abc", "def"]),
                ("z", Operator::In, vec![""]),
            ]
        );
        // Display output parses back to the same selector.
        for (input, _) in cases {
            let s = parse(input);
            assert_eq!(parse(&s.to_string()), s, "{input:?}");
        }
    }

    #[test]
    fn parse_errors() {
        let name_part = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
        let value_msg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
        assert_eq!(
            err("-x"),
            format!("unable to parse requirement: <nil>: Invalid value: \"-x\": {name_part}")
        );
        assert_eq!(
            err("!-x"),
            format!("unable to parse requirement: <nil>: Invalid value: \"-x\": {name_part}")
        );
        assert_eq!(
            err("x=-a"),
            format!(
                "unable to parse requirement: values[0][x]: Invalid value: \"-a\": {value_msg}"
            )
        );
        assert_eq!(
            err("x in (-a,b,-c)"),
            format!("unable to parse requirement: [values[0][x]: Invalid value: \"-a\": {value_msg}, values[1][x]: Invalid value: \"-c\": {value_msg}]")
        );
        assert_eq!(
            err(&format!("x={}", "a".repeat(64))),
            format!("unable to parse requirement: values[0][x]: Invalid value: \"{}\": must be no more than 63 characters", "a".repeat(64))
        );
        assert_eq!(
            err(&"k".repeat(64)),
            format!("unable to parse requirement: <nil>: Invalid value: \"{}\": name part must be no more than 63 characters", "k".repeat(64))
        );
        assert_eq!(err("x,"), "found '', expected: identifier after ','");
        assert_eq!(err("x,,y"), "found ',', expected: identifier after ','");
        assert_eq!(
            err(",x"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            err("=x"),
            "found '=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            err("!"),
            "unable to parse requirement: found '', expected: identifier"
        );
        assert_eq!(
            err("!,x"),
            "unable to parse requirement: found ',', expected: identifier"
        );
        assert_eq!(err("!x=a"), "found '=', expected: ',' or 'end of string'");
        assert_eq!(
            err("x==a==b"),
            "found '==', expected: ',' or 'end of string'"
        );
        assert_eq!(err("x=a b"), "found 'b', expected: ',' or 'end of string'");
        assert_eq!(
            err("x y"),
            "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            err("x ("),
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            err("x in a"),
            "unable to parse requirement: found 'a' expected: '('"
        );
        assert_eq!(
            err("x in"),
            "unable to parse requirement: found '' expected: '('"
        );
        assert_eq!(
            err("x in (a"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            err("x in (a b)"),
            "unable to parse requirement: found 'b', expected: ',' or ')'"
        );
        assert_eq!(
            err("x in (a,=)"),
            "unable to parse requirement: found '=', expected: ',', or identifier"
        );
        assert_eq!(
            err("x in (="),
            "unable to parse requirement: found '=', expected: ',', ')' or identifier"
        );
        assert_eq!(
            err("x=(a)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(
            err("x<a"),
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        assert!(err("x>-1").contains("values[0][x]: Invalid value: \"-1\": a valid label must be"));
        assert_eq!(
            err("x in (a) y"),
            "found 'y', expected: ',' or 'end of string'"
        );
        assert_eq!(err("a/b/c"), format!("unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
        assert_eq!(
            err("é"),
            format!("unable to parse requirement: <nil>: Invalid value: \"é\": {name_part}")
        );
        assert!(matches!(
            LabelSelector::parse("-x"),
            Err(SelectorError::LabelSyntax(_))
        ));
        // A NUL byte where a token starts ends the scan like the end of the string (as upstream's
        // lexer)...
        assert_eq!(err("a, \0b"), "found '', expected: identifier after ','");
        // ... but one ending a symbol or an identifier is just consumed, as upstream.
        assert_eq!(parse("a,\0b").to_string(), "a,b");
        assert_eq!(parse("a\0").to_string(), "a");
    }

    #[test]
    fn matching() {
        let yes = |s: &str, l: &[(&str, &str)]| {
            assert!(parse(s).matches(&set(l)), "{s} should match {l:?}")
        };
        let no = |s: &str, l: &[(&str, &str)]| {
            assert!(!parse(s).matches(&set(l)), "{s} should not match {l:?}")
        };
        yes("", &[("x", "y")]);
        yes("", &[]);
        yes("x=y", &[("x", "y")]);
        yes("x==y", &[("x", "y")]);
        yes("x=y,z=w", &[("x", "y"), ("z", "w")]);
        yes("x!=y,z!=w", &[("x", "z"), ("z", "a")]);
        yes("notin=in", &[("notin", "in")]);
        yes("x", &[("x", "z")]);
        yes("!x", &[("y", "z")]);
        yes("x>1", &[("x", "2")]);
        yes("x<1", &[("x", "0")]);
        yes("x<1", &[("x", "-5")]);
        yes("x!=y", &[]);
        yes("x notin (a,b)", &[]);
        yes("x notin (a,b)", &[("x", "c")]);
        yes("x in (a,b)", &[("x", "b")]);
        yes("x=", &[("x", "")]);
        yes("x in (,a)", &[("x", "")]);
        no("x=z", &[]);
        no("x=", &[]);
        no("x=y", &[("x", "z")]);
        no("x=y,z=w", &[("x", "w"), ("z", "w")]);
        no("x!=y,z!=w", &[("x", "z"), ("z", "w")]);
        no("x", &[("y", "z")]);
        no("!x", &[("x", "z")]);
        no("x>1", &[("x", "0")]);
        no("x>1", &[("x", "v2")]);
        no("x>1", &[]);
        no("x<1", &[("x", "2")]);
        no("x in (a,b)", &[]);
        no("x in (a,b)", &[("x", "c")]);
        no("x notin (a,b)", &[("x", "a")]);
        no("x in ()", &[("y", "baz")]);
        let labels = set(&[("foo", "bar"), ("baz", "blah")]);
        assert!(parse("foo=bar,baz=blah").matches(&labels));
        assert!(!parse("foo=bar,foobar=bar,baz=blah").matches(&labels));
        assert!(!parse("foo=blah").matches(&labels));
    }

    #[test]
    fn matching_json_and_closures() {
        let s = parse("app=web,tier in (a,b),!canary");
        assert!(s.matches_json(Some(&json!({"app": "web", "tier": "a"}))));
        assert!(!s.matches_json(Some(&json!({"app": "web", "tier": "a", "canary": "true"}))));
        assert!(!s.matches_json(Some(&json!({"app": "web"}))));
        assert!(!s.matches_json(None));
        assert!(!s.matches_json(Some(&Value::Null)));
        assert!(parse("!a").matches_json(None));
        assert!(parse("").matches_json(None));
        assert!(parse("a=1").matches_json(Some(&json!({"a": 1}))));
        assert!(parse("!a").matches_json(Some(&json!({"a": null}))));
        assert!(s.matches_with(|k| match k {
            "app" => Some("web"),
            "tier" => Some("b"),
            _ => None,
        }));
        assert!(s.matches_with(|k| (k != "canary").then(|| if k == "app" {
            "web".to_owned()
        } else {
            "a".to_owned()
        })));
        assert!(!LabelSelector::nothing().matches(&BTreeMap::new()));
        assert!(!LabelSelector::nothing().matches_json(Some(&json!({"a": "b"}))));
        assert!(LabelSelector::everything().matches(&set(&[("a", "b")])));
    }

    #[test]
    fn empty_and_nothing() {
        assert!(parse("").is_empty());
        assert!(parse("   ").is_empty());
        assert!(LabelSelector::everything().is_empty());
        assert!(!LabelSelector::nothing().is_empty());
        assert!(LabelSelector::nothing().is_nothing());
        assert_eq!(LabelSelector::nothing().to_string(), "");
        assert!(!parse("a").is_empty());
        assert_eq!(
            "a=b".parse::<LabelSelector>().map(|s| s.to_string()),
            Ok("a=b".to_owned())
        );
    }

    #[test]
    fn exact_match() {
        let s = parse("a=1,b==2,c in (3),d in (4,5),e!=6,f");
        assert_eq!(s.requires_exact_match("a"), Some("1"));
        assert_eq!(s.requires_exact_match("b"), Some("2"));
        assert_eq!(s.requires_exact_match("c"), Some("3"));
        assert_eq!(s.requires_exact_match("d"), None);
        assert_eq!(s.requires_exact_match("e"), None);
        assert_eq!(s.requires_exact_match("f"), None);
        assert_eq!(s.requires_exact_match("g"), None);
    }

    #[test]
    fn from_set() {
        let s = LabelSelector::from_set(&set(&[("z", "1"), ("a", "2")]));
        assert_eq!(s.to_string(), "a=2,z=1");
        assert!(s.matches(&set(&[("a", "2"), ("z", "1"), ("q", "x")])));
        assert!(!s.matches(&set(&[("a", "2")])));
        assert!(LabelSelector::from_set(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn requirement_constructor() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(Requirement::new("x", Operator::In, vec![]).is_err());
        assert!(Requirement::new("x", Operator::NotIn, vec![]).is_err());
        assert!(Requirement::new("x", Operator::In, v(&["foo"])).is_ok());
        assert!(Requirement::new("x", Operator::NotIn, v(&["foo"])).is_ok());
        assert!(Requirement::new("x", Operator::Exists, vec![]).is_ok());
        assert!(Requirement::new("x", Operator::DoesNotExist, vec![]).is_ok());
        assert!(Requirement::new("1foo", Operator::In, v(&["bar"])).is_ok());
        assert!(Requirement::new("1234", Operator::In, v(&["bar"])).is_ok());
        assert!(Requirement::new("y", Operator::GreaterThan, v(&["1"])).is_ok());
        assert!(Requirement::new("z", Operator::LessThan, v(&["6"])).is_ok());
        assert!(Requirement::new("foo", Operator::GreaterThan, v(&["bar"])).is_err());
        assert!(Requirement::new("barz", Operator::LessThan, v(&["blah"])).is_err());
        assert!(Requirement::new("a".repeat(254), Operator::Exists, vec![]).is_err());
        assert_eq!(
            Requirement::new("x", Operator::Equals, v(&["a", "b"]))
                .unwrap_err()
                .to_string(),
            r#"values: Invalid value: ["a","b"]: exact-match compatibility requires one single value"#
        );
        assert_eq!(
            Requirement::new("x", Operator::GreaterThan, vec![])
                .unwrap_err()
                .to_string(),
            "values: Invalid value: null: for 'Gt', 'Lt' operators, exactly one value is required"
        );
        let r = Requirement::new("x", Operator::NotIn, v(&["b", "a"])).unwrap();
        assert_eq!(r.to_string(), "x notin (a,b)");
        assert_eq!(r.values(), ["b", "a"]);
        assert_eq!(Operator::GreaterThan.to_string(), "gt");
        assert_eq!(Operator::DoesNotExist.as_str(), "!");
    }

    #[test]
    fn display_forms() {
        let r = |k: &str, op, vals: &[&str]| {
            Requirement::new(k, op, vals.iter().map(|s| s.to_string()).collect()).unwrap()
        };
        let sel = |reqs: Vec<Requirement>| {
            LabelSelector {
                requirements: reqs,
                nothing: false,
            }
            .to_string()
        };
        assert_eq!(
            sel(vec![
                r("x", Operator::In, &["def", "abc"]),
                r("y", Operator::NotIn, &["jkl"]),
                r("z", Operator::Exists, &[])
            ]),
            "x in (abc,def),y notin (jkl),z"
        );
        assert_eq!(
            sel(vec![
                r("x", Operator::NotIn, &["abc", "def"]),
                r("y", Operator::NotEquals, &["jkl"]),
                r("z", Operator::DoesNotExist, &[])
            ]),
            "x notin (abc,def),y!=jkl,!z"
        );
        assert_eq!(
            sel(vec![
                r("x", Operator::NotIn, &["abc"]),
                r("y", Operator::In, &["jkl", "mno"]),
                r("z", Operator::NotIn, &[""])
            ]),
            "x notin (abc),y in (jkl,mno),z notin ()"
        );
        assert_eq!(
            sel(vec![
                r("x", Operator::Equals, &["abc"]),
                r("y", Operator::DoubleEquals, &["jkl"]),
                r("z", Operator::NotEquals, &["a"]),
                r("z", Operator::Exists, &[])
            ]),
            "x=abc,y==jkl,z!=a,z"
        );
        assert_eq!(
            sel(vec![
                r("x", Operator::GreaterThan, &["2"]),
                r("y", Operator::LessThan, &["8"]),
                r("z", Operator::Exists, &[])
            ]),
            "x>2,y<8,z"
        );
    }

    #[test]
    fn from_json_selectors() {
        let s = LabelSelector::from_json(&json!({
            "matchLabels": {"tier": "web", "app": "nginx"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "team", "operator": "Exists", "values": []}
            ]
        }))
        .unwrap();
        assert_eq!(
            s.to_string(),
            "app=nginx,!canary,env in (dev,prod),team,tier=web,zone notin (b)"
        );
        assert!(s.matches(&set(&[
            ("app", "nginx"),
            ("tier", "web"),
            ("env", "prod"),
            ("team", "x")
        ])));
        assert!(!s.matches(&set(&[("app", "nginx"), ("tier", "web"), ("env", "prod")])));
        assert!(!s.matches(&set(&[
            ("app", "nginx"),
            ("tier", "web"),
            ("env", "prod"),
            ("team", "x"),
            ("zone", "b")
        ])));

        let empty = LabelSelector::from_json(&json!({})).unwrap();
        assert!(empty.is_empty());
        assert!(empty.matches(&set(&[("a", "b")])));
        assert!(
            LabelSelector::from_json(&json!({"matchLabels": {}, "matchExpressions": []}))
                .unwrap()
                .is_empty()
        );
        assert!(LabelSelector::from_json(&json!({"matchLabels": null}))
            .unwrap()
            .is_empty());
        let nothing = LabelSelector::from_json(&Value::Null).unwrap();
        assert!(nothing.is_nothing());
        assert!(!nothing.matches(&BTreeMap::new()));
        // Values keep their order (Display sorts them) and duplicates.
        let dup = LabelSelector::from_json(&json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["y", "x", "y"]}]})).unwrap();
        assert_eq!(dup.requirements()[0].values(), ["y", "x", "y"]);
        assert_eq!(dup.to_string(), "a in (x,y,y)");
    }

    #[test]
    fn from_json_errors() {
        let e = |v: Value| LabelSelector::from_json(&v).unwrap_err().to_string();
        assert_eq!(
            e(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
            "\"Gt\" is not a valid label selector operator"
        );
        assert_eq!(
            e(json!({"matchExpressions": [{"key": "a"}]})),
            "\"\" is not a valid label selector operator"
        );
        assert_eq!(
            e(json!({"matchExpressions": [{"key": "name", "operator": "In", "values": []}]})),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            e(json!({"matchExpressions": [{"key": "name", "operator": "NotIn"}]})),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            e(
                json!({"matchExpressions": [{"key": "name", "operator": "Exists", "values": ["a"]}]})
            ),
            r#"values: Invalid value: ["a"]: values set must be empty for exists and does not exist"#
        );
        assert_eq!(
            e(
                json!({"matchExpressions": [{"key": "name", "operator": "DoesNotExist", "values": ["-a"]}]})
            ),
            r#"[values: Invalid value: ["-a"]: values set must be empty for exists and does not exist, values[0][name]: Invalid value: "-a": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]"#
        );
        assert_eq!(
            e(json!({"matchLabels": {"-x": "a"}})),
            "key: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            e(json!({"matchLabels": {"app": "a b"}})),
            "values[0][app]: Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert!(
            e(json!({"matchExpressions": [{"operator": "Exists"}]})).starts_with(
                "key: Invalid value: \"\": name part must be non-empty; name part must consist of"
            )
        );
        assert_eq!(
            e(json!({"matchLabels": {"a": 1}})),
            "json: cannot unmarshal number into Go struct field LabelSelector.matchLabels of type string"
        );
        assert_eq!(
            e(json!("a=b")),
            "json: cannot unmarshal string into Go value of type v1.LabelSelector"
        );
        assert!(matches!(
            LabelSelector::from_json(&json!({"matchExpressions": [{"key": "a", "operator": "x"}]})),
            Err(SelectorError::InvalidOperator(op)) if op == "x"
        ));
    }

    #[test]
    fn format_json() {
        assert_eq!(LabelSelector::format_json(None), "<none>");
        assert_eq!(LabelSelector::format_json(Some(&json!({}))), "<none>");
        assert_eq!(
            LabelSelector::format_json(Some(&json!({"matchLabels": {"app": "web"}}))),
            "app=web"
        );
        assert_eq!(
            LabelSelector::format_json(Some(&json!({"matchLabels": {"app": "-"}}))),
            "<error>"
        );
    }
}
