//! A family's children.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, new_key, ts};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StudentRow {
    pub id: String,
    pub family_id: String,
    pub name: String,
    pub level: String,
    pub created_at: String,
}

const STUDENT_FIELDS: &str =
    "record::id(id) AS id, record::id(family) AS family_id, name, level, created_at";

impl Store {
    pub async fn create_student(
        &self,
        family_id: &str,
        name: &str,
        level: &str,
        now: DateTime<Utc>,
    ) -> Result<StudentRow, StoreError> {
        let sql = format!(
            "CREATE type::record('student', $id) SET family = type::record('family', $family),
                 name = $name, level = $level, created_at = <datetime>$now RETURN NONE;
             SELECT {STUDENT_FIELDS} FROM ONLY type::record('student', $id);"
        );
        let vars = json!({ "id": new_key(), "family": family_id, "name": name, "level": level, "now": ts(now) });
        self.row(&sql, vars, 1).await
    }

    pub async fn students(&self, family_id: &str) -> Result<Vec<StudentRow>, StoreError> {
        let sql = format!(
            "SELECT {STUDENT_FIELDS} FROM student WHERE family = type::record('family', $family) ORDER BY created_at"
        );
        self.rows(&sql, json!({ "family": family_id }), 0).await
    }

    /// The students with these ids that exist.
    pub async fn students_by_ids(&self, ids: &[String]) -> Result<Vec<StudentRow>, StoreError> {
        let sql = format!(
            "SELECT {STUDENT_FIELDS} FROM array::map($ids, |$i| type::record('student', $i)) WHERE id != NONE"
        );
        self.rows(&sql, json!({ "ids": ids }), 0).await
    }

    pub async fn student(&self, id: &str) -> Result<StudentRow, StoreError> {
        let sql = format!("SELECT {STUDENT_FIELDS} FROM ONLY type::record('student', $id)");
        self.row(&sql, json!({ "id": id }), 0).await
    }
}
