//! Webhooks: subscriptions, what users are told when a group changes their access, and the
//! dispatcher that delivers the outbox.
//!
//! Every command's audit entries become events, and every notification an
//! `access.changed` (or `access.summary`) event; the store writes one delivery per event
//! and subscription in the command's own transaction. The dispatcher takes due deliveries
//! with a lease (so replicas never send one twice at once), signs each per Standard
//! Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<HMAC-SHA256>`),
//! and records the attempt: delivered on a 2xx, otherwise retried with exponential backoff
//! until the last attempt, after which it is dead until someone asks for a redelivery.

use std::time::Duration;

use rolecall_engine::{Engine, GroupAccessChange};
use rolecall_store::{
    Attempt, AttemptNext, Batch, Delivery, DeliveryState, DueDelivery, Event, Notification, NotificationRecord, Store,
    Webhook, Write,
};
use serde_json::json;

use crate::{Actor, Allowed, Service, ServiceError, now_ms};

/// The longest webhook URL.
pub const MAX_URL_LEN: usize = 2_000;
/// The most event patterns one subscription may list.
pub const MAX_EVENT_PATTERNS: usize = 50;

/// How deliveries are attempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts in all, the first included; the delivery is dead after the last.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further one.
    pub first_retry: Duration,
    pub max_delay: Duration,
    /// How long a receiver may take to answer.
    pub timeout: Duration,
    /// How long a taken delivery is not handed out again (a process that dies mid-attempt
    /// releases it when this runs out).
    pub lease: Duration,
    /// Deliveries attempted at once.
    pub batch: u32,
    /// The longest sleep between looks at the outbox (other replicas' events, retries).
    pub poll: Duration,
    /// Whether receivers may be on loopback, private, link-local or other non-public
    /// addresses. Yes by default (receivers beside the service are common); a deployment
    /// whose workspace admins are not its operators turns it off, so that no webhook makes
    /// the server call into its own network. Checked on every attempt, after DNS.
    pub private_targets: bool,
}

impl Default for DeliveryPolicy {
    /// Eight attempts over about 21 minutes (10 s, 20 s, 40 s, ... 640 s apart).
    fn default() -> Self {
        DeliveryPolicy {
            max_attempts: 8,
            first_retry: Duration::from_secs(10),
            max_delay: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            private_targets: true,
            batch: 32,
            poll: Duration::from_secs(1),
        }
    }
}

impl DeliveryPolicy {
    /// What follows a failed attempt, the `done`-th, made at `now`.
    pub fn after_failure(&self, done: u32, now: i64) -> AttemptNext {
        if done >= self.max_attempts {
            return AttemptNext::Dead;
        }
        let factor = 2u32.saturating_pow(done.saturating_sub(1));
        let wait = self.first_retry.saturating_mul(factor).min(self.max_delay);
        AttemptNext::RetryAt(now.saturating_add(wait.as_millis() as i64))
    }
}

/// A running dispatcher; it stops when this is dropped.
#[derive(Debug)]
pub struct Dispatcher {
    task: tokio::task::AbortHandle,
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks a subscription's fields: an http(s) URL with a host, event patterns, and a
/// Standard Webhooks secret (`whsec_` and base64 of 24 to 64 bytes).
pub fn validate_webhook(webhook: &Webhook) -> Result<(), ServiceError> {
    let invalid = |m: String| Err(ServiceError::Invalid(m));
    let url = &webhook.url;
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    if url.len() > MAX_URL_LEN || host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
        return invalid(format!(
            "`url` must be an http:// or https:// URL with a host, at most {MAX_URL_LEN} characters"
        ));
    }
    if webhook.events.is_empty() || webhook.events.len() > MAX_EVENT_PATTERNS {
        return invalid(format!("`events` lists 1 to {MAX_EVENT_PATTERNS} event types, `prefix.*` or `*`"));
    }
    for pattern in &webhook.events {
        let name = pattern.strip_suffix('*').unwrap_or(pattern);
        let ok = name.len() <= 100
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_')
            && (pattern == "*" || !name.is_empty() && (!pattern.ends_with('*') || name.ends_with('.')));
        if !ok {
            return invalid(format!("event pattern `{pattern}`: write a type (`group.member.put`), `prefix.*` or `*`"));
        }
    }
    let key = webhook.secret.strip_prefix("whsec_").map(|k| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(k)
    });
    match key {
        Some(Ok(bytes)) if (24..=64).contains(&bytes.len()) => Ok(()),
        _ => invalid("`secret` must be `whsec_` followed by the base64 of 24 to 64 random bytes".into()),
    }
}

/// Standard Webhooks headers for one attempt: the signature of `{id}.{timestamp}.{body}`.
pub fn signature_headers(
    secret: &str,
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<[(&'static str, String); 3], String> {
    let signer = standardwebhooks::Webhook::new(secret).map_err(|e| format!("unusable secret: {e}"))?;
    let signature = signer.sign(message_id, timestamp, body.as_bytes()).map_err(|e| e.to_string())?;
    Ok([
        (standardwebhooks::HEADER_WEBHOOK_ID, message_id.to_string()),
        (standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string()),
        (standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature),
    ])
}

/// The events and notifications of a batch: one event per audit entry, and for the users
/// whose access a notifying group changed alike, one notification and its `access.changed`
/// events (a thousand users per event).
pub(crate) fn record(batch: &mut Batch, engine: &Engine, told: Vec<GroupAccessChange>) {
    let workspace = batch.changes.first().map(|c| c.workspace.clone());
    for change in told {
        let Some(ws) = workspace.as_deref() else { break };
        let Ok(index) = engine.workspace(ws) else { break };
        for class in change.classes {
            let (mut gained, mut lost) = (Vec::new(), Vec::new());
            for role in class.roles {
                if role.gained(index) {
                    gained.push(json!({"resource": role.resource, "role": role.after, "previous": role.before}));
                } else {
                    lost.push(json!({"resource": role.resource, "role": role.before, "now": role.after}));
                }
            }
            let body = json!({"group": change.group, "reason": change.reason.name(), "gained": gained, "lost": lost});
            let reason = change.reason.name();
            push_notification(batch, ws, class.users, Some(&change.group), reason, body, Some(change.change));
        }
    }
    let events: Vec<Event> = batch
        .audit
        .iter()
        .map(|a| Event {
            workspace: a.workspace.clone(),
            kind: a.action.clone(),
            data: json!({"actor": batch.actor, "target": a.target, "before": a.before, "after": a.after}),
            change: None,
        })
        .collect();
    batch.events.extend(events);
}

/// The most users one `access.*` event names; a larger class is told in several events.
pub const USERS_PER_EVENT: usize = 1000;

fn push_notification(
    batch: &mut Batch,
    workspace: &str,
    users: Vec<String>,
    group: Option<&str>,
    reason: &str,
    body: serde_json::Value,
    change: Option<usize>,
) {
    let kind = if reason == "summary" { "access.summary" } else { "access.changed" };
    for chunk in users.chunks(USERS_PER_EVENT) {
        let mut data = body.clone();
        data["users"] = json!(chunk);
        batch.events.push(Event { workspace: workspace.into(), kind: kind.into(), data, change });
    }
    batch.notifications.push(NotificationRecord {
        workspace: workspace.into(),
        users,
        group: group.map(String::from),
        reason: reason.into(),
        body,
        change,
    });
}

impl<S: Store> Service<S> {
    /// Subscribes `webhook.url` to the workspace's events. Workspace admins (and keys) only.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        workspace: &str,
        webhook: Webhook,
    ) -> Result<rolecall_model::Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        rolecall_model::validate_id("webhook", &webhook.id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        validate_webhook(&webhook)?;
        let batch = Batch {
            actor: actor.name(),
            writes: vec![Write::PutWebhook { workspace: workspace.into(), webhook: webhook.clone() }],
            audit: vec![Self::audit(
                workspace,
                "webhook.create",
                format!("webhook:{}", webhook.id),
                None,
                // Never the secret.
                Some(json!({"id": webhook.id, "url": webhook.url, "events": webhook.events})),
            )],
            ..Batch::default()
        };
        self.run_if(&allowed, batch, |engine| engine.workspace(workspace).map(|_| ()).map_err(Into::into)).await
    }

    /// The workspace's webhooks. Workspace admins (and keys) only.
    pub async fn webhooks(&self, actor: &Actor, workspace: &str) -> Result<Vec<Webhook>, ServiceError> {
        self.require_admin(actor, workspace).await?;
        self.read()?.workspace(workspace)?;
        Ok(self.store.webhooks(workspace).await?)
    }

    pub async fn webhook(&self, actor: &Actor, workspace: &str, id: &str) -> Result<Webhook, ServiceError> {
        let hooks = self.webhooks(actor, workspace).await?;
        hooks.into_iter().find(|w| w.id == id).ok_or_else(|| ServiceError::WebhookNotFound(id.to_string()))
    }

    /// Ends a subscription and drops its deliveries.
    pub async fn delete_webhook(
        &self,
        actor: &Actor,
        workspace: &str,
        id: &str,
    ) -> Result<rolecall_model::Revision, ServiceError> {
        let hook = self.webhook(actor, workspace, id).await?;
        let allowed = self.require_admin(actor, workspace).await?;
        let batch = Batch {
            actor: actor.name(),
            writes: vec![Write::DeleteWebhook { workspace: workspace.into(), id: id.into() }],
            audit: vec![Self::audit(
                workspace,
                "webhook.delete",
                format!("webhook:{id}"),
                Some(json!({"id": hook.id, "url": hook.url, "events": hook.events})),
                None,
            )],
            ..Batch::default()
        };
        self.run(&allowed, batch).await
    }

    /// A webhook's deliveries after `after`, optionally in one state, oldest first.
    pub async fn deliveries(
        &self,
        actor: &Actor,
        workspace: &str,
        webhook: &str,
        state: Option<DeliveryState>,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Delivery>, ServiceError> {
        self.webhook(actor, workspace, webhook).await?;
        Ok(self.store.deliveries(workspace, webhook, state, after, limit).await?)
    }

    /// Sends a delivery again (a dead one, or one to see again), with a fresh set of attempts.
    pub async fn redeliver(
        &self,
        actor: &Actor,
        workspace: &str,
        webhook: &str,
        delivery: u64,
    ) -> Result<Delivery, ServiceError> {
        self.webhook(actor, workspace, webhook).await?;
        let again = self.store.redeliver(workspace, webhook, delivery, now_ms()).await?;
        let again = again.ok_or(ServiceError::DeliveryNotFound(delivery))?;
        self.core.outbox.notify_one();
        Ok(again)
    }

    /// A user's notifications. The user themself, workspace admins and keys may read them.
    pub async fn notifications(
        &self,
        actor: &Actor,
        workspace: &str,
        user: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Notification>, ServiceError> {
        match actor {
            Actor::User { user: me, .. } if me == user => actor.require_workspace(workspace)?,
            _ => {
                self.require_admin(actor, workspace).await?;
            }
        }
        if self.read()?.workspace(workspace)?.user_info(user).is_none() {
            return Err(rolecall_engine::EngineError::UserNotFound(user.to_string()).into());
        }
        Ok(self.store.notifications(workspace, user, after, limit).await?)
    }

    /// "Notify users of their access" (seed 001), for one group or several: each member
    /// gets a summary of their roles on what the group covers. Needs `edit` on every group.
    /// Returns how many notifications were sent.
    pub async fn notify_members(
        &self,
        actor: &Actor,
        workspace: &str,
        groups: &[String],
    ) -> Result<(usize, rolecall_model::Revision), ServiceError> {
        if groups.is_empty() || groups.len() > crate::commands::MAX_BULK {
            return Err(ServiceError::Invalid(format!("`group_ids` lists 1 to {} groups", crate::commands::MAX_BULK)));
        }
        let mut allowed = Allowed::default();
        for group in groups {
            let target = rolecall_model::ResourceRef::new("group", group);
            allowed.extend(self.authorize(actor, workspace, rolecall_engine::GroupAction::Edit.name(), &target).await?);
        }
        let mut batch = Batch {
            actor: actor.name(),
            audit: vec![Self::audit(workspace, "group.notify", format!("groups:{}", groups.join(",")), None, None)],
            ..Batch::default()
        };
        let mut sent = 0;
        {
            let engine = self.read()?;
            let index = engine.workspace(workspace)?;
            for group in groups {
                // Members with the same access get one message.
                let mut alike: std::collections::BTreeMap<Vec<(rolecall_model::ResourceRef, String)>, Vec<String>> =
                    std::collections::BTreeMap::new();
                for member in index.access_summary(group)? {
                    alike.entry(member.roles).or_default().push(member.user);
                }
                for (roles, users) in alike {
                    let roles: Vec<_> = roles.iter().map(|(r, role)| json!({"resource": r, "role": role})).collect();
                    let body = json!({"group": group, "reason": "summary", "roles": roles});
                    sent += users.len();
                    push_notification(&mut batch, workspace, users, Some(group), "summary", body, None);
                }
            }
        }
        let revision = self.run(&allowed, batch).await?;
        Ok((sent, revision))
    }

    /// Starts delivering the outbox: due deliveries are sent, at once after a command
    /// that wrote some, and at least every `policy.poll`.
    pub fn start_dispatcher(&self, policy: DeliveryPolicy) -> Result<Dispatcher, ServiceError> {
        let mut builder = reqwest::Client::builder()
            .timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Rolecall-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !policy.private_targets {
            builder = builder.dns_resolver(PublicOnly);
        }
        let client =
            builder.build().map_err(|e| ServiceError::Invalid(format!("cannot build the webhook client: {e}")))?;
        let store = self.store.clone();
        let wake = self.core.outbox.clone();
        let task = tokio::spawn(async move {
            loop {
                match dispatch(&store, &client, &policy).await {
                    // A full batch: more may be due right away.
                    Ok(n) if n >= policy.batch as usize => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "webhook dispatch failed; retrying"),
                }
                let due = store.next_due().await.ok().flatten();
                let wait = due.map_or(policy.poll, |at| {
                    Duration::from_millis(at.saturating_sub(now_ms()).max(0) as u64).min(policy.poll)
                });
                let _ = tokio::time::timeout(wait, wake.notified()).await;
            }
        });
        Ok(Dispatcher { task: task.abort_handle() })
    }
}

/// One round: takes the due deliveries and attempts each (at once); returns how many.
async fn dispatch<S: Store>(
    store: &S,
    client: &reqwest::Client,
    policy: &DeliveryPolicy,
) -> Result<usize, ServiceError> {
    let now = now_ms();
    let lease_until = now.saturating_add(policy.lease.as_millis() as i64);
    let due = store.claim_due(now, lease_until, policy.batch).await?;
    let count = due.len();
    let mut set = tokio::task::JoinSet::new();
    for d in due {
        let (client, policy) = (client.clone(), *policy);
        set.spawn(async move {
            let attempt = send(&client, &d, &policy).await;
            (d.delivery.id, attempt)
        });
    }
    while let Some(done) = set.join_next().await {
        let Ok((id, attempt)) = done else { continue };
        if let Err(e) = store.record_attempt(id, attempt).await {
            // The lease runs out and the delivery is tried again: at least once, never lost.
            tracing::warn!(delivery = id, error = %e, "could not record a webhook attempt");
        }
    }
    Ok(count)
}

/// One attempt of one delivery.
async fn send(client: &reqwest::Client, due: &DueDelivery, policy: &DeliveryPolicy) -> Attempt {
    let delivery = &due.delivery;
    let started = now_ms();
    let done = delivery.attempts + 1;
    let failed = |status: Option<u16>, error: String| Attempt {
        at: now_ms(),
        status,
        error: Some(error),
        next: policy.after_failure(done, now_ms()),
    };
    let headers = match signature_headers(&due.secret, &delivery.message_id(), started / 1000, &delivery.body) {
        Ok(h) => h,
        Err(e) => return Attempt { at: started, status: None, error: Some(e), next: AttemptNext::Dead },
    };
    if !policy.private_targets && literal_host(&due.url).is_some_and(|ip| !is_public(ip)) {
        // An address in the URL itself is not looked up, so the resolver never sees it.
        return failed(
            None,
            "the receiver's address is not public, and this server delivers to public ones only".into(),
        );
    }
    let mut request = client.post(&due.url).header("content-type", "application/json").body(delivery.body.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => Attempt {
            at: now_ms(),
            status: Some(response.status().as_u16()),
            error: None,
            next: AttemptNext::Delivered,
        },
        Ok(response) => {
            let status = response.status();
            failed(Some(status.as_u16()), format!("the receiver answered {status}"))
        }
        Err(e) if e.is_timeout() => failed(None, format!("no answer within {} ms", policy.timeout.as_millis())),
        Err(e) => failed(None, format!("could not reach the receiver: {}", source_chain(&e))),
    }
}

/// Resolves names to their public addresses only: a name that has no public address is an
/// error, so a delivery never connects to the server's own network.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<std::net::SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    format!("`{host}` has no public address, and this server delivers to public ones only").into();
                return Err(e);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The IP address a URL names literally, if it does.
fn literal_host(url: &str) -> Option<std::net::IpAddr> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next()?.parse().ok();
    }
    host.split(':').next()?.parse().ok()
}

/// Whether an address is on the public internet: not loopback, private, link-local (cloud
/// metadata lives there), shared (CGNAT), unspecified, multicast, documentation or
/// reserved, nor an IPv6 form of one of those.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn addresses_written_in_urls_are_found() {
        let ip = |u: &str| literal_host(u).map(|i| i.to_string());
        assert_eq!(ip("http://127.0.0.1:8080/hook"), Some("127.0.0.1".into()));
        assert_eq!(ip("https://user:pw@10.0.0.1/x"), Some("10.0.0.1".into()));
        assert_eq!(ip("http://[::1]:9000/"), Some("::1".into()));
        assert_eq!(ip("https://hooks.example.com/x"), None);
    }
}
