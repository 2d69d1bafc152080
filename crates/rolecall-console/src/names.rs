//! Names for ids and ids for names: the people and groups a page shows, and the user or
//! group someone typed (an email, a group name), found without regard to case.

use std::collections::BTreeMap;

use rolecall_api::AppState;
use rolecall_model::{Subject, name_key};
use rolecall_service::ServiceError;
use rolecall_store::{PageRequest, Store};

/// A user's name and email for display, by id.
pub async fn people<S: Store>(
    state: &AppState<S>,
    ws: &str,
    ids: &[&str],
) -> Result<BTreeMap<String, (String, String)>, ()> {
    let mut out = BTreeMap::new();
    for id in ids {
        if let Some(u) = state.service.store().user(ws, id).await.map_err(|_| ())? {
            out.insert(u.id, (u.name, u.email));
        }
    }
    Ok(out)
}

pub async fn group_names<S: Store>(
    state: &AppState<S>,
    ws: &str,
    ids: &[&str],
) -> Result<BTreeMap<String, String>, ()> {
    let mut out = BTreeMap::new();
    for id in ids {
        if let Some(g) = state.service.store().group(ws, id).await.map_err(|_| ())? {
            out.insert(g.id, g.name);
        }
    }
    Ok(out)
}

/// A user by email or a group by name (without regard to case), as a subject.
pub async fn subject_named<S: Store>(state: &AppState<S>, ws: &str, who: &str) -> Result<Subject, ServiceError> {
    let who = who.trim();
    if who.is_empty() {
        return Err(ServiceError::Invalid("type an email or a group name".into()));
    }
    if who.contains('@') {
        return user_by_email(state, ws, who).await.map(Subject::User);
    }
    let found = state.service.store().groups(ws, Some(who), None, PageRequest { after: None, limit: 1_100 }).await?;
    match found.items.into_iter().find(|g| name_key(&g.name) == name_key(who)) {
        Some(group) => Ok(Subject::Group(group.id)),
        None => Err(ServiceError::Invalid(format!("no group is named `{who}`"))),
    }
}

/// The user with this email (without regard to case), as a subject.
pub async fn user_by_email<S: Store>(state: &AppState<S>, ws: &str, email: &str) -> Result<String, ServiceError> {
    let email = email.trim();
    let found = state.service.store().users(ws, Some(email), PageRequest { after: None, limit: 50 }).await?;
    match found.items.into_iter().find(|u| u.email.eq_ignore_ascii_case(email)) {
        Some(user) => Ok(user.id),
        None => Err(ServiceError::Invalid(format!("no user has the email `{email}`"))),
    }
}
