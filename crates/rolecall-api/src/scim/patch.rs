//! SCIM PATCH (RFC 7644 §3.5.2) on a resource document: `add`, `replace` and `remove`,
//! with or without a path, on simple, complex and multi-valued attributes, value filters
//! (`emails[type eq "work"].value`) included. Group members are not touched here: the
//! caller turns operations on `members` into member edits first.

use serde_json::{Map, Value};

use super::Refusal;
use super::filter::{self, Filter, PatchPath};
use super::schema::Kind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One operation of a PatchOp request.
#[derive(Clone, Debug)]
pub struct Operation {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Attributes a client never writes: what PATCH bodies carry of them is refused with a
/// path, and ignored inside a path-less value.
const READ_ONLY: &[&str] = &["id", "meta", "groups", "schemas"];

/// The operations of a PatchOp body.
pub fn operations(body: &Value, kind: Kind) -> Result<Vec<Operation>, Refusal> {
    let schemas = body["schemas"].as_array().ok_or_else(|| Refusal::syntax("a PatchOp needs `schemas`"))?;
    if !schemas.iter().any(|s| s == super::schema::PATCH_OP) {
        return Err(Refusal::syntax(format!("a PatchOp's `schemas` is [\"{}\"]", super::schema::PATCH_OP)));
    }
    let ops = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| Refusal::syntax("a PatchOp needs an `Operations` array"))?;
    if ops.is_empty() {
        return Err(Refusal::syntax("`Operations` is empty"));
    }
    ops.iter()
        .map(|op| {
            let name = op["op"].as_str().ok_or_else(|| Refusal::syntax("each operation needs an `op`"))?;
            let kind_of = match name.to_ascii_lowercase().as_str() {
                "add" => OpKind::Add,
                "replace" => OpKind::Replace,
                "remove" => OpKind::Remove,
                other => return Err(Refusal::syntax(format!("`{other}` is not add, replace or remove"))),
            };
            let path = match &op["path"] {
                Value::Null => None,
                Value::String(p) if p.trim().is_empty() => None,
                Value::String(p) => Some(filter::parse_path(p, kind).map_err(|e| Refusal::path(e.0))?),
                _ => return Err(Refusal::syntax("`path` is a string")),
            };
            let value = op.get("value").cloned().filter(|v| !v.is_null());
            match (kind_of, &path, &value) {
                (OpKind::Remove, None, _) => Err(Refusal::new("noTarget", "a remove needs a `path`")),
                (OpKind::Add | OpKind::Replace, _, None) => Err(Refusal::syntax(format!("`{name}` needs a `value`"))),
                (OpKind::Add | OpKind::Replace, None, Some(v)) if !v.is_object() => {
                    Err(Refusal::syntax("without a `path`, the `value` is an object of attributes"))
                }
                _ => Ok(Operation { op: kind_of, path, value }),
            }
        })
        .collect()
}

/// Splits a path-less operation into one operation per attribute of its value, so that
/// every operation names its target.
pub fn with_paths(op: Operation, kind: Kind) -> Result<Vec<Operation>, Refusal> {
    if op.path.is_some() {
        return Ok(vec![op]);
    }
    let Some(Value::Object(fields)) = op.value else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (name, value) in fields {
        if READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(&name)) {
            continue;
        }
        // A value may be keyed by a whole path (`name.givenName`, or with the schema URN).
        let path = filter::parse_path(&name, kind).map_err(|e| Refusal::path(e.0))?;
        if value.is_null() {
            continue;
        }
        out.push(Operation { op: op.op, path: Some(path), value: Some(value) });
    }
    Ok(out)
}

/// Applies one operation (with a path: see [`with_paths`]) to `doc`.
pub fn apply(doc: &mut Value, op: &Operation) -> Result<(), Refusal> {
    let Some(path) = &op.path else { return Ok(()) };
    let attr = path.attr.attr.as_str();
    if READ_ONLY.contains(&attr) {
        return Err(Refusal::new("mutability", format!("`{attr}` is read-only")));
    }
    let fields = doc.as_object_mut().ok_or_else(|| Refusal::syntax("the resource is not an object"))?;
    let value = op.value.clone().unwrap_or(Value::Null);
    let sub = path.sub.as_deref().or(path.attr.sub.as_deref());
    let primaries_before = primaries(fields.get(attr));
    match (&path.filter, sub) {
        (None, None) => whole(fields, attr, path.attr.multi, path.attr.complex, op.op, value)?,
        (None, Some(sub)) => {
            // `name.givenName`, or `emails.type` (every value).
            match fields.get_mut(attr) {
                Some(Value::Array(items)) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        set_sub(item, sub, op.op, &value);
                    }
                }
                Some(Value::Object(item)) => set_sub(item, sub, op.op, &value),
                _ if op.op == OpKind::Remove => {}
                _ if path.attr.multi => {
                    return Err(Refusal::new("noTarget", format!("`{attr}` has no values to set `{sub}` on")));
                }
                _ => {
                    let mut item = Map::new();
                    set_sub(&mut item, sub, op.op, &value);
                    fields.insert(attr.into(), Value::Object(item));
                }
            }
        }
        (Some(_), _) if !path.attr.multi => {
            return Err(Refusal::path(format!("`{attr}` has one value: a `[...]` filter selects among several")));
        }
        (Some(filter), sub) => {
            let slot = fields.entry(attr.to_string()).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = slot else {
                return Err(Refusal::new("invalidValue", format!("`{attr}` holds a value that is not a list")));
            };
            let mut hit = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if filter::matches(filter, item).map_err(|e| Refusal::new("invalidFilter", e.0))? {
                    hit.push(i);
                }
            }
            if hit.is_empty() {
                match op.op {
                    OpKind::Remove => {}
                    // A client setting `emails[type eq "work"].value` on a user without a
                    // work address means to add one: made from the filter's equalities.
                    _ => {
                        let mut item = seed(filter).ok_or_else(|| {
                            Refusal::new("noTarget", format!("no value of `{attr}` matches the path's filter"))
                        })?;
                        match sub {
                            Some(sub) => set_sub(&mut item, sub, OpKind::Replace, &value),
                            None => merge(&mut item, &value)?,
                        }
                        items.push(Value::Object(item));
                    }
                }
            } else {
                for &i in hit.iter().rev() {
                    match (op.op, sub) {
                        (OpKind::Remove, None) => {
                            items.remove(i);
                        }
                        (_, Some(sub)) => {
                            if let Some(item) = items[i].as_object_mut() {
                                set_sub(item, sub, op.op, &value);
                            }
                        }
                        (_, None) => {
                            if let Some(item) = items[i].as_object_mut() {
                                merge(item, &value)?;
                            }
                        }
                    }
                }
            }
        }
    }
    settle_primary(fields.get_mut(attr), &primaries_before);
    tidy(fields, attr);
    Ok(())
}

/// An operation on a whole attribute.
fn whole(
    fields: &mut Map<String, Value>,
    attr: &str,
    multi: bool,
    complex: bool,
    op: OpKind,
    value: Value,
) -> Result<(), Refusal> {
    match op {
        OpKind::Remove if multi && !value.is_null() => {
            // `remove` with a value (as some clients send): those values go.
            let gone: Vec<Value> = as_list(value);
            if let Some(Value::Array(items)) = fields.get_mut(attr) {
                items.retain(|item| !gone.iter().any(|g| same_value(item, g)));
            }
        }
        OpKind::Remove => {
            fields.remove(attr);
        }
        OpKind::Add if multi => {
            let items = fields.entry(attr.to_string()).or_insert_with(|| Value::Array(Vec::new()));
            if !items.is_array() {
                *items = Value::Array(Vec::new());
            }
            if let Value::Array(items) = items {
                for v in as_list(value) {
                    if !items.iter().any(|item| same_value(item, &v)) {
                        items.push(v);
                    }
                }
            }
        }
        OpKind::Replace if multi => {
            fields.insert(attr.into(), Value::Array(as_list(value)));
        }
        OpKind::Add | OpKind::Replace if complex => {
            let Value::Object(_) = &value else {
                return Err(Refusal::new("invalidValue", format!("`{attr}` takes an object of sub-attributes")));
            };
            let target = fields.entry(attr.to_string()).or_insert_with(|| Value::Object(Map::new()));
            match target.as_object_mut() {
                Some(item) => merge(item, &value)?,
                None => *target = value,
            }
        }
        OpKind::Add | OpKind::Replace => {
            fields.insert(attr.into(), value);
        }
    }
    Ok(())
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

/// Whether two values of a multi-valued attribute are the same value: equal, or equal on
/// `value` when both are complex values that have one.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) if b.as_object().is_some_and(|o| o.len() == 1) => x == y,
        _ => a == b,
    }
}

fn set_sub(item: &mut Map<String, Value>, sub: &str, op: OpKind, value: &Value) {
    if op == OpKind::Remove || value.is_null() {
        item.remove(sub);
    } else {
        item.insert(sub.into(), value.clone());
    }
}

fn merge(item: &mut Map<String, Value>, value: &Value) -> Result<(), Refusal> {
    let Value::Object(fields) = value else {
        return Err(Refusal::new("invalidValue", "a complex value is an object of sub-attributes"));
    };
    for (k, v) in fields {
        item.insert(k.clone(), v.clone());
    }
    Ok(())
}

/// The value a filter of `eq` comparisons joined by `and` describes.
fn seed(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare { path, op: filter::CompareOp::Eq, value } => {
            let mut item = Map::new();
            item.insert(path.attr.clone(), value.clone());
            Some(item)
        }
        Filter::And(a, b) => {
            let mut item = seed(a)?;
            item.extend(seed(b)?);
            Some(item)
        }
        _ => None,
    }
}

/// Indexes of the values marked primary.
fn primaries(values: Option<&Value>) -> Vec<usize> {
    match values {
        Some(Value::Array(items)) => (0..items.len()).filter(|&i| items[i]["primary"] == Value::Bool(true)).collect(),
        _ => Vec::new(),
    }
}

/// RFC 7644 §3.5.2: a value newly made primary takes the mark from the others.
fn settle_primary(values: Option<&mut Value>, before: &[usize]) {
    let Some(Value::Array(items)) = values else { return };
    let now: Vec<usize> = (0..items.len()).filter(|&i| items[i]["primary"] == Value::Bool(true)).collect();
    if now.len() > 1 {
        for i in now.into_iter().filter(|i| before.contains(i)) {
            items[i]["primary"] = Value::Bool(false);
        }
    }
}

/// An attribute left empty is no attribute.
fn tidy(fields: &mut Map<String, Value>, attr: &str) {
    let empty = match fields.get(attr) {
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        fields.remove(attr);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(doc: &mut Value, ops: Value) -> Result<(), Refusal> {
        let body = json!({"schemas": [super::super::schema::PATCH_OP], "Operations": ops});
        for op in operations(&body, Kind::User)? {
            for op in with_paths(op, Kind::User)? {
                apply(doc, &op)?;
            }
        }
        Ok(())
    }

    fn user() -> Value {
        json!({"userName": "bjensen", "emails": [{"value": "b@example.com", "type": "work", "primary": true}]})
    }

    #[test]
    fn operations_follow_rfc_7644() {
        let mut doc = user();
        patch(
            &mut doc,
            json!([
                {"op": "add", "path": "emails", "value": [{"value": "babs@home.org", "type": "home", "primary": true}]},
                {"op": "Replace", "path": "name.givenName", "value": "Barbara"},
                {"op": "add", "value": {"nickName": "Babs", "name.familyName": "Jensen"}},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "bj@example.com"},
            ]),
        )
        .unwrap();
        assert_eq!(doc["name"], json!({"givenName": "Barbara", "familyName": "Jensen"}));
        assert_eq!(doc["nickName"], "Babs");
        assert_eq!(
            doc["emails"],
            json!([
                {"value": "bj@example.com", "type": "work", "primary": false},
                {"value": "babs@home.org", "type": "home", "primary": true},
            ]),
            "the new primary value takes the mark"
        );
        patch(
            &mut doc,
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}, {"op": "remove", "path": "name"}]),
        )
        .unwrap();
        assert_eq!(doc["emails"].as_array().unwrap().len(), 1);
        assert!(doc.get("name").is_none());
        // A filter that matches nothing adds the value it describes.
        patch(&mut doc, json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x.org"}]))
            .unwrap();
        assert_eq!(doc["emails"][1], json!({"type": "home", "value": "h@x.org"}));
    }

    #[test]
    fn malformed_operations_are_refused() {
        let mut doc = user();
        for (ops, scim_type) in [
            (json!([{"op": "remove"}]), "noTarget"),
            (json!([{"op": "move", "path": "title"}]), "invalidSyntax"),
            (json!([{"op": "add", "path": "nope", "value": 1}]), "invalidPath"),
            (json!([{"op": "replace", "path": "groups", "value": []}]), "mutability"),
            (json!([{"op": "add", "value": "not an object"}]), "invalidSyntax"),
            (json!([{"op": "replace", "path": "emails[type co \"zz\"].value", "value": "x@y.z"}]), "noTarget"),
            (json!([{"op": "replace", "path": "name[givenName eq \"B\"].familyName", "value": "J"}]), "invalidPath"),
        ] {
            let mut d = doc.clone();
            let err = patch(&mut d, ops.clone()).unwrap_err();
            assert_eq!(err.scim_type, Some(scim_type), "{ops}: {err:?}");
        }
        patch(&mut doc, json!([{"op": "remove", "path": "title"}])).unwrap();
    }
}
