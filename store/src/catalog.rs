//! The subject catalogue (subject × level) and session templates: both
//! admin-managed, read by everyone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, new_key, ts};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubjectRow {
    pub id: String,
    /// e.g. Maths.
    pub name: String,
    /// e.g. GCSE, A-Level.
    pub level: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TemplateRow {
    pub id: String,
    pub name: String,
    pub duration_min: u32,
    /// Per student, in pence.
    pub price_pence: i64,
    pub active: bool,
}

const SUBJECT_FIELDS: &str = "record::id(id) AS id, name, level, active";
const TEMPLATE_FIELDS: &str = "record::id(id) AS id, name, duration_min, price_pence, active";

/// A subject's record key: `maths_a_level`.
pub fn subject_key(name: &str, level: &str) -> String {
    let slug = |s: &str| {
        s.trim()
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    };
    format!("{}_{}", slug(name), slug(level))
}

impl Store {
    pub async fn subjects(&self, include_retired: bool) -> Result<Vec<SubjectRow>, StoreError> {
        let sql = format!(
            "SELECT {SUBJECT_FIELDS} FROM subject WHERE active OR $all ORDER BY name, level"
        );
        self.rows(&sql, json!({ "all": include_retired }), 0).await
    }

    /// The active subject named so (case-insensitive).
    pub async fn find_subject(&self, name: &str, level: &str) -> Result<SubjectRow, StoreError> {
        let sql = format!(
            "SELECT {SUBJECT_FIELDS} FROM subject WHERE active
               AND string::lowercase(name) = string::lowercase($name)
               AND string::lowercase(level) = string::lowercase($level) LIMIT 1"
        );
        self.row(
            &sql,
            json!({ "name": name.trim(), "level": level.trim() }),
            0,
        )
        .await
    }

    pub async fn create_subject(
        &self,
        name: &str,
        level: &str,
        now: DateTime<Utc>,
    ) -> Result<SubjectRow, StoreError> {
        let sql = format!(
            "CREATE ONLY type::record('subject', $id)
               SET name = $name, level = $level, active = true, created_at = <datetime>$now
               RETURN {SUBJECT_FIELDS}"
        );
        let vars = json!({ "id": subject_key(name, level), "name": name.trim(), "level": level.trim(), "now": ts(now) });
        self.row(&sql, vars, 0).await
    }

    /// Retires or restores a subject. Lessons already booked keep it.
    pub async fn set_subject_active(
        &self,
        id: &str,
        active: bool,
    ) -> Result<SubjectRow, StoreError> {
        let sql = format!(
            "UPDATE ONLY type::record('subject', $id) SET active = $active RETURN {SUBJECT_FIELDS}"
        );
        self.row(&sql, json!({ "id": id, "active": active }), 0)
            .await
    }

    pub async fn templates(&self) -> Result<Vec<TemplateRow>, StoreError> {
        let sql = format!("SELECT {TEMPLATE_FIELDS} FROM template WHERE active ORDER BY name");
        self.rows(&sql, json!({}), 0).await
    }

    pub async fn template(&self, id: &str) -> Result<TemplateRow, StoreError> {
        let sql =
            format!("SELECT {TEMPLATE_FIELDS} FROM type::record('template', $id) WHERE active");
        self.row(&sql, json!({ "id": id }), 0).await
    }

    pub async fn create_template(
        &self,
        name: &str,
        duration_min: u32,
        price_pence: i64,
        now: DateTime<Utc>,
    ) -> Result<TemplateRow, StoreError> {
        let sql = format!(
            "CREATE ONLY type::record('template', $id) SET name = $name, duration_min = $d,
               price_pence = $p, active = true, created_at = <datetime>$now
             RETURN {TEMPLATE_FIELDS}"
        );
        let vars = json!({ "id": new_key(), "name": name.trim(), "d": duration_min, "p": price_pence, "now": ts(now) });
        self.row(&sql, vars, 0).await
    }
}
