//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): parsed against the published
//! schemas (attribute names in any case, with or without the schema URN) and evaluated on
//! resource documents.

use serde_json::Value;

use super::schema::{self, Kind};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// An attribute, and maybe one of its sub-attributes, by the names the schema publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    pub attr: String,
    pub sub: Option<String>,
    /// Whether strings compare exactly (otherwise without regard to case).
    pub case_exact: bool,
    pub multi: bool,
    pub complex: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: some value of a multi-valued complex attribute matches `filter`,
    /// whose paths name sub-attributes.
    Has {
        attr: AttrPath,
        filter: Box<Filter>,
    },
    /// A part of a filter already decided (members of huge groups are not evaluated value
    /// by value).
    Const(bool),
}

/// A PATCH operation's target.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    /// `attr[filter]`: the values the operation applies to.
    pub filter: Option<Filter>,
    /// `attr[filter].sub`.
    pub sub: Option<String>,
}

/// Why a filter or a path was refused, with the `scimType` it answers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

/// Where names are looked up: a resource's attributes or, inside `[...]`, one complex
/// attribute's sub-attributes.
#[derive(Clone, Copy)]
enum Scope {
    Resource(Kind),
    Sub(&'static [Value]),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Literal(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn tokens(input: &str) -> Result<Vec<Token>, Invalid> {
    let mut out = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | '[' | ']' => {
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
                i += 1;
            }
            '"' => {
                // A JSON string: find its end, then let serde unescape it.
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                if i >= chars.len() {
                    return Err(Invalid("a string in the filter is not closed".into()));
                }
                i += 1;
                let literal: String = chars[start..i].iter().collect();
                let value: String =
                    serde_json::from_str(&literal).map_err(|_| Invalid(format!("{literal} is not a valid string")))?;
                out.push(Token::Str(value));
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '(' | ')' | '[' | ']' | '"') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(match word.to_ascii_lowercase().as_str() {
                    "true" => Token::Literal(Value::Bool(true)),
                    "false" => Token::Literal(Value::Bool(false)),
                    "null" => Token::Literal(Value::Null),
                    _ if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') => Token::Literal(
                        serde_json::from_str::<serde_json::Number>(&word)
                            .map(Value::Number)
                            .map_err(|_| Invalid(format!("`{word}` is not a number")))?,
                    ),
                    _ => Token::Word(word),
                });
            }
        }
    }
    Ok(out)
}

/// Resolves `name` (`userName`, `name.givenName`, `urn:...:User:emails.value`) in `scope`.
fn attr_path(name: &str, scope: Scope) -> Result<AttrPath, Invalid> {
    let unknown = || Invalid(format!("`{name}` is not an attribute of this resource"));
    match scope {
        Scope::Sub(subs) => {
            let def = schema::find(subs, name).ok_or_else(unknown)?;
            Ok(path_of(def, None))
        }
        Scope::Resource(kind) => {
            let mut rest = name;
            let urn = kind.urn();
            if rest.len() > urn.len()
                && rest[..urn.len()].eq_ignore_ascii_case(urn)
                && rest[urn.len()..].starts_with(':')
            {
                rest = &rest[urn.len() + 1..];
            } else if rest.to_ascii_lowercase().starts_with("urn:") {
                return Err(unknown());
            }
            let (attr, sub) = match rest.split_once('.') {
                Some((a, s)) => (a, Some(s)),
                None => (rest, None),
            };
            let common = |name: &str, subs: &[&str]| -> Result<AttrPath, Invalid> {
                let sub = match sub {
                    None => None,
                    Some(s) => Some(subs.iter().find(|x| x.eq_ignore_ascii_case(s)).ok_or_else(unknown)?.to_string()),
                };
                Ok(AttrPath { attr: name.into(), sub, case_exact: true, multi: false, complex: !subs.is_empty() })
            };
            if attr.eq_ignore_ascii_case("id") {
                return common("id", &[]).and_then(|p| if p.sub.is_some() { Err(unknown()) } else { Ok(p) });
            }
            if attr.eq_ignore_ascii_case("externalId") {
                return common("externalId", &[]).and_then(|p| if p.sub.is_some() { Err(unknown()) } else { Ok(p) });
            }
            if attr.eq_ignore_ascii_case("meta") {
                return common("meta", &["resourceType", "location", "created", "lastModified", "version"]);
            }
            let def = schema::find(kind.attributes(), attr).ok_or_else(unknown)?;
            let sub = match sub {
                None => None,
                Some(s) => Some(schema::find(schema::sub_attributes(def), s).ok_or_else(unknown)?),
            };
            Ok(path_of(def, sub))
        }
    }
}

fn path_of(def: &Value, sub: Option<&Value>) -> AttrPath {
    let name = |d: &Value| d["name"].as_str().unwrap_or_default().to_string();
    let exact = |d: &Value| d["caseExact"].as_bool().unwrap_or(false);
    AttrPath {
        attr: name(def),
        sub: sub.map(name),
        case_exact: sub.map_or_else(|| exact(def), exact),
        multi: def["multiValued"].as_bool().unwrap_or(false),
        complex: def["type"] == "complex" && sub.is_none(),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self, scope: Scope) -> Result<Filter, Invalid> {
        let mut left = self.and(scope)?;
        while self.keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and(scope)?));
        }
        Ok(left)
    }

    fn and(&mut self, scope: Scope) -> Result<Filter, Invalid> {
        let mut left = self.unary(scope)?;
        while self.keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary(scope)?));
        }
        Ok(left)
    }

    fn unary(&mut self, scope: Scope) -> Result<Filter, Invalid> {
        if self.keyword("not") && self.tokens.get(self.at + 1) == Some(&Token::Open) {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.unary(scope)?)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or(scope)?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(Invalid("a `(` is not closed".into())),
                }
            }
            Some(Token::Word(name)) => {
                let path = attr_path(&name, scope)?;
                if self.peek() == Some(&Token::OpenBracket) {
                    self.at += 1;
                    let Scope::Resource(_) = scope else {
                        return Err(Invalid("`[...]` cannot be nested".into()));
                    };
                    let subs = value_path_scope(&path, scope)?;
                    let filter = self.or(Scope::Sub(subs))?;
                    if self.next() != Some(Token::CloseBracket) {
                        return Err(Invalid("a `[` is not closed".into()));
                    }
                    return Ok(Filter::Has { attr: path, filter: Box::new(filter) });
                }
                let op = match self.next() {
                    Some(Token::Word(op)) => op.to_ascii_lowercase(),
                    _ => return Err(Invalid(format!("`{name}` needs an operator"))),
                };
                let op = match op.as_str() {
                    "pr" => return Ok(Filter::Present(path)),
                    "eq" => CompareOp::Eq,
                    "ne" => CompareOp::Ne,
                    "co" => CompareOp::Co,
                    "sw" => CompareOp::Sw,
                    "ew" => CompareOp::Ew,
                    "gt" => CompareOp::Gt,
                    "ge" => CompareOp::Ge,
                    "lt" => CompareOp::Lt,
                    "le" => CompareOp::Le,
                    other => return Err(Invalid(format!("`{other}` is not a SCIM operator"))),
                };
                let value = match self.next() {
                    Some(Token::Str(s)) => Value::String(s),
                    Some(Token::Literal(v)) => v,
                    _ => return Err(Invalid(format!("`{name}` needs a value to compare with"))),
                };
                Ok(Filter::Compare { path, op, value })
            }
            Some(other) => Err(Invalid(format!("unexpected {other:?} in the filter"))),
            None => Err(Invalid("the filter ends too early".into())),
        }
    }
}

/// The sub-attributes a `attr[...]` filter names.
fn value_path_scope(path: &AttrPath, scope: Scope) -> Result<&'static [Value], Invalid> {
    let Scope::Resource(kind) = scope else { return Err(Invalid("`[...]` cannot be nested".into())) };
    let def = schema::find(kind.attributes(), &path.attr)
        .filter(|d| d["type"] == "complex" && path.sub.is_none())
        .ok_or_else(|| Invalid(format!("`{}` has no sub-attributes to filter on", path.attr)))?;
    Ok(schema::sub_attributes(def))
}

/// Parses a filter on resources of `kind`.
pub fn parse(input: &str, kind: Kind) -> Result<Filter, Invalid> {
    let mut parser = Parser { tokens: tokens(input)?, at: 0 };
    let filter = parser.or(Scope::Resource(kind))?;
    match parser.peek() {
        None => Ok(filter),
        Some(extra) => Err(Invalid(format!("unexpected {extra:?} after the filter"))),
    }
}

/// Parses a PATCH path on resources of `kind`: `attr`, `attr.sub`, `attr[filter]` or
/// `attr[filter].sub`.
pub fn parse_path(input: &str, kind: Kind) -> Result<PatchPath, Invalid> {
    let input = input.trim();
    let Some(open) = input.find('[') else {
        return Ok(PatchPath { attr: attr_path(input, Scope::Resource(kind))?, filter: None, sub: None });
    };
    let close = input.rfind(']').ok_or_else(|| Invalid("a `[` is not closed".into()))?;
    let attr = attr_path(&input[..open], Scope::Resource(kind))?;
    let subs = value_path_scope(&attr, Scope::Resource(kind))?;
    let mut parser = Parser { tokens: tokens(&input[open + 1..close])?, at: 0 };
    let filter = parser.or(Scope::Sub(subs))?;
    if parser.peek().is_some() {
        return Err(Invalid(format!("`{input}` is not a valid path")));
    }
    let sub = match input[close + 1..].strip_prefix('.') {
        None if input[close + 1..].is_empty() => None,
        None => return Err(Invalid(format!("`{input}` is not a valid path"))),
        Some(name) => Some(
            schema::find(subs, name)
                .and_then(|d| d["name"].as_str())
                .ok_or_else(|| Invalid(format!("`{name}` is not a sub-attribute of `{}`", attr.attr)))?
                .to_string(),
        ),
    };
    Ok(PatchPath { attr, filter: Some(filter), sub })
}

/// The values `path` names in `doc` (every value of a multi-valued attribute; for a
/// multi-valued complex attribute named without a sub-attribute, their `value`s).
fn values<'a>(doc: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let top = &doc[path.attr.as_str()];
    let items: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let sub = path.sub.as_deref().or(if path.multi && path.complex { Some("value") } else { None });
    match sub {
        None => items,
        Some(sub) => items.into_iter().map(|v| &v[sub]).filter(|v| !v.is_null()).collect(),
    }
}

/// Whether `doc` matches `filter`. A comparison that makes no sense (a boolean `gt`, `co`
/// on a number) is refused rather than answered `false`.
pub fn matches(filter: &Filter, doc: &Value) -> Result<bool, Invalid> {
    Ok(match filter {
        Filter::Const(b) => *b,
        Filter::And(a, b) => matches(a, doc)? && matches(b, doc)?,
        Filter::Or(a, b) => matches(a, doc)? || matches(b, doc)?,
        Filter::Not(a) => !matches(a, doc)?,
        Filter::Present(path) => values(doc, path).iter().any(|v| match v {
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::Null => false,
            _ => true,
        }),
        Filter::Has { attr, filter } => {
            let items: Vec<&Value> = match &doc[attr.attr.as_str()] {
                Value::Array(items) => items.iter().collect(),
                Value::Null => Vec::new(),
                other => vec![other],
            };
            let mut any = false;
            for item in items {
                any |= matches(filter, item)?;
            }
            any
        }
        Filter::Compare { path, op, value } => {
            let found = values(doc, path);
            if *op == CompareOp::Ne {
                let eq = Filter::Compare { path: path.clone(), op: CompareOp::Eq, value: value.clone() };
                return Ok(!matches(&eq, doc)?);
            }
            let mut any = false;
            for v in found {
                any |= compare(v, *op, value, path.case_exact)?;
            }
            any
        }
    })
}

fn compare(actual: &Value, op: CompareOp, wanted: &Value, case_exact: bool) -> Result<bool, Invalid> {
    use CompareOp::*;
    match (actual, wanted) {
        (Value::String(a), Value::String(w)) => {
            let (a, w) = if case_exact { (a.clone(), w.clone()) } else { (a.to_lowercase(), w.to_lowercase()) };
            Ok(match op {
                Eq => a == w,
                Ne => a != w,
                Co => a.contains(&w),
                Sw => a.starts_with(&w),
                Ew => a.ends_with(&w),
                Gt => a > w,
                Ge => a >= w,
                Lt => a < w,
                Le => a <= w,
            })
        }
        (Value::Bool(a), Value::Bool(w)) => match op {
            Eq => Ok(a == w),
            Ne => Ok(a != w),
            _ => Err(Invalid("booleans compare only with eq and ne".into())),
        },
        (Value::Number(a), Value::Number(w)) => {
            let (a, w) = (a.as_f64().unwrap_or(f64::NAN), w.as_f64().unwrap_or(f64::NAN));
            match op {
                Eq => Ok(a == w),
                Ne => Ok(a != w),
                Gt => Ok(a > w),
                Ge => Ok(a >= w),
                Lt => Ok(a < w),
                Le => Ok(a <= w),
                _ => Err(Invalid("numbers compare only with eq, ne, gt, ge, lt and le".into())),
            }
        }
        (_, Value::Null) => Ok(matches!(op, Eq) && actual.is_null()),
        _ => Ok(false),
    }
}

impl Filter {
    /// `Some(value)` when this filter is exactly `<attr>[.<sub>] eq "<value>"` on `attr`
    /// (`sub` given: that sub-attribute, or the attribute itself when it is multi-valued
    /// complex and the filter names no sub-attribute).
    pub fn equals(&self, attr: &str, sub: Option<&str>) -> Option<&str> {
        let Filter::Compare { path, op: CompareOp::Eq, value: Value::String(v) } = self else { return None };
        let sub_matches = match (path.sub.as_deref(), sub) {
            (a, b) if a == b => true,
            (None, Some("value")) => path.multi && path.complex,
            _ => false,
        };
        (path.attr == attr && sub_matches).then_some(v.as_str())
    }

    /// Replaces every part of the filter that reads `attr` by what `decide` says of it.
    /// `decide` returns `None` for a part it cannot decide, which refuses the filter.
    pub fn decide(self, attr: &str, decide: &impl Fn(&Filter) -> Option<bool>) -> Result<Filter, Invalid> {
        let reads = |f: &Filter| match f {
            Filter::Compare { path, .. } | Filter::Present(path) | Filter::Has { attr: path, .. } => path.attr == attr,
            _ => false,
        };
        Ok(match self {
            Filter::And(a, b) => Filter::And(Box::new(a.decide(attr, decide)?), Box::new(b.decide(attr, decide)?)),
            Filter::Or(a, b) => Filter::Or(Box::new(a.decide(attr, decide)?), Box::new(b.decide(attr, decide)?)),
            Filter::Not(a) => Filter::Not(Box::new(a.decide(attr, decide)?)),
            f if reads(&f) => Filter::Const(decide(&f).ok_or_else(|| {
                Invalid(format!("`{attr}` can be filtered on with `{attr}.value eq` and `{attr} pr` only"))
            })?),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Value {
        json!({
            "id": "u1", "userName": "Bjensen", "externalId": "E-1",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
            "groups": [{"value": "g1", "type": "direct"}],
        })
    }

    fn check(filter: &str) -> bool {
        matches(&parse(filter, Kind::User).unwrap(), &user()).unwrap()
    }

    #[test]
    fn the_rfc_examples_parse_and_match() {
        assert!(check(r#"userName eq "bjensen""#), "userName is not case exact");
        assert!(check(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#));
        assert!(check(r#"name.familyName co "ens""#));
        assert!(check(r#"emails co "example.com""#));
        assert!(check(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!check(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(check(r#"userName Eq "x" or (emails.type eq "home" and not (name.givenName eq "Bob"))"#));
        assert!(check("title pr or name pr"));
        assert!(!check("title pr"));
        assert!(check(r#"externalId eq "E-1""#));
        assert!(!check(r#"externalId eq "e-1""#), "externalId is case exact");
        assert!(check(r#"groups.value eq "g1" and userName ne "alice""#));
        assert!(check(r#"emails.primary eq true"#));
    }

    #[test]
    fn bad_filters_are_refused_with_a_reason() {
        for bad in [
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"nope eq "a""#,
            r#"(userName eq "a""#,
            r#"userName eq "a" and"#,
            r#"emails[type eq "work""#,
            r#"userName eq "unterminated"#,
            r#"urn:other:schema:userName eq "a""#,
        ] {
            assert!(parse(bad, Kind::User).is_err(), "{bad} should be refused");
        }
        let f = parse("emails.primary gt true", Kind::User).unwrap();
        assert!(matches(&f, &user()).is_err(), "a boolean cannot be ordered");
    }

    #[test]
    fn patch_paths_resolve_to_published_names() {
        let p = parse_path(r#"EMAILS[type eq "work"].VALUE"#, Kind::User).unwrap();
        assert_eq!((p.attr.attr.as_str(), p.sub.as_deref()), ("emails", Some("value")));
        let p = parse_path("name.givenname", Kind::User).unwrap();
        assert_eq!((p.attr.attr.as_str(), p.attr.sub.as_deref()), ("name", Some("givenName")));
        let p = parse_path(r#"members[value eq "2819c223"]"#, Kind::Group).unwrap();
        assert_eq!(p.filter.unwrap().equals("value", None), Some("2819c223"));
        assert!(parse_path("members[value eq \"x\"].nope", Kind::Group).is_err());
        assert!(parse_path("userName[value eq \"x\"]", Kind::User).is_err());
    }
}
