//! What the web console signs in with: users' passwords (Argon2id, set by the user
//! themself or an admin) and sessions (a random token in a cookie; only its SHA-256 is
//! stored, with the CSRF token the session's forms carry). A suspended user cannot sign in,
//! and a new password ends every session of its user.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rolecall_model::Revision;
use rolecall_store::{Batch, Session, Store, Write};
use serde_json::json;
use sha2::Digest;

use crate::{Actor, Allowed, Service, ServiceError};

/// The shortest and longest password accepted.
pub const MIN_PASSWORD: usize = 12;
pub const MAX_PASSWORD: usize = 256;
/// How long a session lasts from sign-in.
pub const SESSION_LENGTH: Duration = Duration::from_secs(12 * 3600);

/// A hash of a password nobody has, verified when there is no user to verify against, so
/// a wrong email takes as long as a wrong password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$cm9sZWNhbGwtZGVjb3k$8kA1s/Hq9Xz3wSp5sVsl2cKq0bVZ6nXbUe3Rz8p0xXI";

/// A fresh random secret or id of `bytes` random bytes, as hex: session tokens, CSRF
/// tokens, API keys, generated ids (the API and the console use this one too).
pub fn random_token(bytes: usize) -> Result<String, ServiceError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ServiceError::Corrupt(format!("no randomness: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The stored form of a session token.
pub fn token_hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Hashes a password on a blocking thread (Argon2 takes tens of milliseconds on purpose).
async fn hash_password(password: String) -> Result<String, ServiceError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(random_token(16)?.as_bytes())
            .map_err(|e| ServiceError::Corrupt(format!("salt: {e}")))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Corrupt(format!("password hash: {e}")))
    })
    .await
    .map_err(|e| ServiceError::Corrupt(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// Whether a password may be set: its length (checked before a form that also changes
/// other things writes anything).
pub fn check_password(password: &str) -> Result<(), ServiceError> {
    let length = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Err(ServiceError::Invalid(format!("a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")));
    }
    Ok(())
}

impl<S: Store> Service<S> {
    /// What `ops` (changes through groups) would do to anyone's effective roles, for the
    /// console's confirmations; nothing is changed. Worked out on a copy of the workspace's
    /// index (copy-on-write: milliseconds) after letting go of the engine's lock, on a
    /// blocking thread: deleting a group of a million members takes a few hundred
    /// milliseconds, which neither checks nor writes wait for.
    pub async fn preview(
        &self,
        actor: &Actor,
        workspace: &str,
        ops: Vec<rolecall_model::Op>,
    ) -> Result<Vec<rolecall_engine::AccessClass>, ServiceError> {
        actor.require_workspace(workspace)?;
        let index = self.read()?.workspace(workspace)?.clone();
        tokio::task::spawn_blocking(move || index.preview(&ops))
            .await
            .map_err(|e| ServiceError::Corrupt(e.to_string()))?
            .map_err(ServiceError::from)
    }

    /// Sets `user`'s console password: the user themself, or a workspace admin (or key).
    pub async fn set_password(
        &self,
        actor: &Actor,
        workspace: &str,
        user: &str,
        password: &str,
    ) -> Result<Revision, ServiceError> {
        let allowed = match actor {
            Actor::User { user: me, .. } if me == user => {
                actor.require_workspace(workspace)?;
                Allowed::default()
            }
            _ => self.require_admin(actor, workspace).await?,
        };
        if self.read()?.workspace(workspace)?.user_info(user).is_none() {
            return Err(rolecall_engine::EngineError::UserNotFound(user.to_string()).into());
        }
        check_password(password)?;
        let hash = hash_password(password.to_string()).await?;
        let batch = Batch {
            actor: actor.name(),
            writes: vec![Write::PutPassword { workspace: workspace.into(), user: user.into(), hash }],
            // Never the password nor its hash.
            audit: vec![Self::audit(workspace, "user.password.set", format!("user:{user}"), None, Some(json!({})))],
            ..Batch::default()
        };
        self.run(&allowed, batch).await
    }

    /// Signs a user in by email and password; returns the session's token (for the
    /// cookie) and the session. Every failure is [`ServiceError::BadCredentials`].
    pub async fn sign_in(
        &self,
        workspace: &str,
        email: &str,
        password: &str,
    ) -> Result<(String, Session), ServiceError> {
        let known = self.read()?.workspace(workspace).is_ok();
        let found = if known { self.store.password_of(workspace, email).await? } else { None };
        let (user, hash) = found.unwrap_or_else(|| (String::new(), DECOY.to_string()));
        let verified = verify_password(password.chars().take(MAX_PASSWORD).collect(), hash).await;
        let active =
            !user.is_empty() && self.read()?.workspace(workspace).ok().and_then(|i| i.is_active(&user)) == Some(true);
        if !verified || !active {
            return Err(ServiceError::BadCredentials);
        }
        let token = random_token(32)?;
        let now = now_ms();
        let session = Session {
            hash: token_hash(&token),
            workspace: workspace.to_string(),
            user,
            csrf: random_token(32)?,
            created_at: now,
            expires_at: now + SESSION_LENGTH.as_millis() as i64,
        };
        self.store.create_session(&session).await?;
        Ok((token, session))
    }

    /// The live session a token belongs to: not expired, and its user still there and
    /// active (a suspended user's sessions open nothing).
    pub async fn session(&self, token: &str) -> Result<Option<Session>, ServiceError> {
        let Some(session) = self.store.session(&token_hash(token), now_ms()).await? else { return Ok(None) };
        let active = self.read()?.workspace(&session.workspace).ok().and_then(|i| i.is_active(&session.user));
        Ok((active == Some(true)).then_some(session))
    }

    /// Ends the session a token belongs to.
    pub async fn sign_out(&self, token: &str) -> Result<(), ServiceError> {
        Ok(self.store.delete_session(&token_hash(token), now_ms()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_hash_and_verify_and_the_decoy_is_a_valid_hash() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), hash.clone()).await);
        assert!(!verify_password("correct horse battery!".into(), hash).await);
        assert!(PasswordHash::new(DECOY).is_ok(), "the decoy costs a real verification");
        assert!(!verify_password("anything".into(), DECOY.into()).await);
    }
}
