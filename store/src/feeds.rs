//! Secret calendar feed tokens: `calendar_feed:<token>` names its user.
//! Rotating deletes the old token, so its URL stops working at once.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Store, StoreError, ts};

impl Store {
    /// The user's feed token, made on first use.
    pub async fn feed_token(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let existing: Vec<String> = self
            .rows(
                "SELECT VALUE record::id(id) FROM calendar_feed WHERE user = type::record('user', $u)",
                json!({ "u": user_id }),
                0,
            )
            .await?;
        match existing.into_iter().next() {
            Some(t) => Ok(t),
            None => match self.rotate_feed_token(user_id, now).await {
                // Another request made it first.
                Err(StoreError::Duplicate(_)) => Box::pin(self.feed_token(user_id, now)).await,
                other => other,
            },
        }
    }

    /// A new token for the user; the old one stops working.
    pub async fn rotate_feed_token(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let token = new_token();
        let sql = "BEGIN TRANSACTION;
                   DELETE calendar_feed WHERE user = type::record('user', $u);
                   CREATE type::record('calendar_feed', $t) SET user = type::record('user', $u),
                       created_at = <datetime>$now RETURN NONE;
                   COMMIT TRANSACTION;";
        self.value(sql, json!({ "u": user_id, "t": token, "now": ts(now) }), 0)
            .await?;
        Ok(token)
    }

    /// The user a feed token belongs to.
    pub async fn feed_user(&self, token: &str) -> Result<String, StoreError> {
        self.row(
            "SELECT VALUE record::id(user) FROM type::record('calendar_feed', $t)",
            json!({ "t": token }),
            0,
        )
        .await
    }
}

/// 256 random bits, hex: unguessable, URL- and record-key-safe.
fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
