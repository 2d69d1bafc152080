//! Data scopes (seed 001: "users of group France only see France's data").
//!
//! A group carries, per dataset, attribute -> allowed values. A user sees the rows that
//! match the scope of at least one of their groups (the union: the most permissive wins).
//! Admins are unrestricted; a user with no scope sees what the dataset's `without_scope`
//! says. The filter is exact: it is never widened to fit a simpler shape.

use std::collections::{BTreeMap, BTreeSet};

use rolecall_model::WithoutScope;

use crate::EngineError;
use crate::index::{Scope, WorkspaceIndex};

/// What a user may see of a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataAccess {
    Unrestricted,
    Nothing,
    /// The rows matching at least one of these scopes. Within a scope every listed
    /// attribute must hold one of its values; attributes a scope does not list are free.
    AnyOf(Vec<Scope>),
}

/// A user's filter on one dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataFilter {
    pub access: DataAccess,
    attributes: Vec<String>,
}

/// A parameterised SQL condition: `where` uses `$1`, `$2`, ... for `params`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlFilter {
    pub where_clause: String,
    pub params: Vec<String>,
}

impl DataFilter {
    pub fn unrestricted(&self) -> bool {
        self.access == DataAccess::Unrestricted
    }

    /// The filter as one map of attribute -> allowed values, when one map says exactly the
    /// same thing: `None` when unrestricted or when the union of scopes has no such form
    /// (then use [`DataFilter::scopes`] or the SQL). Nothing-at-all lists every attribute
    /// with no allowed value.
    pub fn as_map(&self) -> Option<BTreeMap<String, Vec<String>>> {
        let to_map = |s: &Scope| s.iter().map(|(k, v)| (k.clone(), v.iter().cloned().collect())).collect();
        match &self.access {
            DataAccess::Unrestricted => None,
            DataAccess::Nothing => Some(self.attributes.iter().map(|a| (a.clone(), Vec::new())).collect()),
            DataAccess::AnyOf(scopes) => match scopes.as_slice() {
                [one] => Some(to_map(one)),
                _ => merge_exactly(scopes).map(|s| to_map(&s)),
            },
        }
    }

    /// The scopes whose union the user sees (empty unless scoped).
    pub fn scopes(&self) -> &[Scope] {
        match &self.access {
            DataAccess::AnyOf(scopes) => scopes,
            _ => &[],
        }
    }

    /// The filter as a SQL condition with numbered parameters starting at `$first_param`.
    /// Attribute names are schema names (letters, digits, `_`, `-`), quoted as identifiers.
    pub fn to_sql(&self, first_param: usize) -> SqlFilter {
        let mut params = Vec::new();
        let where_clause = match &self.access {
            DataAccess::Unrestricted => "TRUE".to_string(),
            DataAccess::Nothing => "FALSE".to_string(),
            DataAccess::AnyOf(scopes) => {
                let mut alternatives = Vec::new();
                for scope in scopes {
                    let mut conditions = Vec::new();
                    for (attribute, values) in scope {
                        if values.is_empty() {
                            conditions.push("FALSE".to_string());
                            continue;
                        }
                        let mut placeholders = Vec::new();
                        for v in values {
                            params.push(v.clone());
                            placeholders.push(format!("${}", first_param + params.len() - 1));
                        }
                        conditions.push(format!("\"{attribute}\" IN ({})", placeholders.join(", ")));
                    }
                    alternatives.push(format!("({})", conditions.join(" AND ")));
                }
                alternatives.join(" OR ")
            }
        };
        SqlFilter { where_clause, params }
    }

    /// Whether a row, given by its attribute values, passes the filter.
    pub fn allows<'r>(&self, value_of: impl Fn(&str) -> Option<&'r str>) -> bool {
        match &self.access {
            DataAccess::Unrestricted => true,
            DataAccess::Nothing => false,
            DataAccess::AnyOf(scopes) => scopes.iter().any(|scope| {
                scope.iter().all(|(attribute, values)| value_of(attribute).is_some_and(|v| values.contains(v)))
            }),
        }
    }
}

/// Merges scopes into one when their union is exactly one scope: all restrict the same
/// attributes and differ in at most one of them.
fn merge_exactly(scopes: &[Scope]) -> Option<Scope> {
    let first = scopes.first()?;
    let keys: BTreeSet<&String> = first.keys().collect();
    if scopes.iter().any(|s| s.keys().collect::<BTreeSet<_>>() != keys) {
        return None;
    }
    let differing: Vec<&String> = keys.iter().copied().filter(|k| scopes.iter().any(|s| s[*k] != first[*k])).collect();
    match differing.as_slice() {
        [] => Some(first.clone()),
        [only] => {
            let mut merged = first.clone();
            let union = scopes.iter().flat_map(|s| s[*only].iter().cloned()).collect();
            merged.insert((*only).clone(), union);
            Some(merged)
        }
        _ => None,
    }
}

impl WorkspaceIndex {
    /// The filter `user` gets on `dataset`.
    pub fn data_filter(&self, user: &str, dataset: &str) -> Result<DataFilter, EngineError> {
        let (u, rec) = self.user_rec(user)?;
        let d = self.schema.dataset(dataset).ok_or_else(|| EngineError::UnknownDataset(dataset.to_string()))?;
        let def = &self.schema.datasets[d];
        let attributes = def.attributes.clone();
        if self.is_suspended(u) {
            return Ok(DataFilter { access: DataAccess::Nothing, attributes });
        }
        if self.is_admin(rec) {
            return Ok(DataFilter { access: DataAccess::Unrestricted, attributes });
        }
        let mut scopes: Vec<Scope> = Vec::new();
        for g in &self.groups_of(rec) {
            let Some(scope) = self.group(g).and_then(|x| x.scopes.get(&d)) else { continue };
            if scope.is_empty() {
                // A scope that restricts nothing lets the user see everything.
                return Ok(DataFilter { access: DataAccess::Unrestricted, attributes });
            }
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        let access = if scopes.is_empty() {
            match def.without_scope {
                WithoutScope::Nothing => DataAccess::Nothing,
                WithoutScope::Everything => DataAccess::Unrestricted,
            }
        } else {
            scopes.sort();
            DataAccess::AnyOf(scopes)
        };
        Ok(DataFilter { access, attributes })
    }
}
