//! Counters behind the per-family caps that must hold across nodes: a
//! counter row per family and day is written in the same statement that
//! reads it, so two nodes racing on one family conflict and one retries.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::{Store, StoreError};

impl Store {
    /// Counts one booking request by `family_id` on `now`'s UTC day and
    /// returns the day's count, this one included.
    pub async fn count_booking_request(
        &self,
        family_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let day = now.format("%Y-%m-%d").to_string();
        let n: u32 = self
            .row(
                "UPSERT type::record('booking_day', [$family, $day])
                     SET n = (n ?? 0) + 1 RETURN VALUE n",
                json!({ "family": family_id, "day": day }),
                0,
            )
            .await?;
        Ok(n)
    }
}
