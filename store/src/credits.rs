//! Makeup credits as a family sees them. They are issued and spent inside
//! the lesson transactions (see `lessons.rs`); this only reads them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, ts};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreditRow {
    pub id: String,
    /// The child whose cancelled seat earned it; any of the family's
    /// children may use it.
    pub student_id: String,
    pub student_name: String,
    /// The cancelled lesson.
    pub source_lesson_id: String,
    pub reason: String,
    pub created_at: String,
    pub expires_at: String,
    /// available, used or expired.
    pub state: String,
    #[serde(default)]
    pub used_at: Option<String>,
    #[serde(default)]
    pub used_for: Option<String>,
}

impl Store {
    pub async fn credits(
        &self,
        family_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<CreditRow>, StoreError> {
        let sql = "SELECT record::id(id) AS id, record::id(student) AS student_id,
                          student.name AS student_name, record::id(source) AS source_lesson_id,
                          reason, <string>created_at AS created_at, <string>expires_at AS expires_at,
                          IF used_at THEN <string>used_at ELSE NONE END AS used_at,
                          IF used_for THEN record::id(used_for) ELSE NONE END AS used_for,
                          IF used_at THEN 'used'
                          ELSE IF expires_at <= <datetime>$now THEN 'expired'
                          ELSE 'available' END AS state
                   FROM credit WHERE family = type::record('family', $family)
                   ORDER BY expires_at";
        self.rows(sql, json!({ "family": family_id, "now": ts(now) }), 0)
            .await
    }
}
