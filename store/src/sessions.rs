//! Login sessions: one per issued token, so a token can be revoked.

use chrono::{DateTime, Utc};
use cms_domain::Role;
use serde::Deserialize;
use serde_json::json;

use super::{Store, StoreError, new_key, ts};

/// The user behind a live session.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionUser {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub family_id: Option<String>,
}

impl Store {
    pub async fn create_session(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let id = new_key();
        self.value(
            "CREATE type::record('session', $id) SET user = type::record('user', $user),
                 created_at = <datetime>$now, expires_at = <datetime>$exp RETURN NONE",
            json!({ "id": id, "user": user_id, "now": ts(now), "exp": ts(expires_at) }),
            0,
        )
        .await?;
        Ok(id)
    }

    /// The session's user if the session is neither revoked nor expired.
    pub async fn live_session(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<SessionUser, StoreError> {
        self.row(
            "SELECT record::id(user) AS user_id, user.name AS name, user.role AS role,
                 (IF user.family != NONE THEN record::id(user.family) ELSE NONE END) AS family_id
             FROM type::record('session', $id)
             WHERE revoked_at = NONE AND expires_at > <datetime>$now",
            json!({ "id": id, "now": ts(now) }),
            0,
        )
        .await
    }

    pub async fn revoke_session(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.value(
            "UPDATE type::record('session', $id) SET revoked_at = <datetime>$now
             WHERE revoked_at = NONE RETURN NONE",
            json!({ "id": id, "now": ts(now) }),
            0,
        )
        .await?;
        Ok(())
    }
}
