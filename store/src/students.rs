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
    /// Adds a child to a family holding fewer than `max_children`, or
    /// refuses (`Refusal::Other`, nothing written). The count and the
    /// write are one transaction that also writes the family row, so two
    /// adds racing for the last place conflict and the retried one counts
    /// the other's child: the cap holds across requests and nodes.
    pub async fn create_student(
        &self,
        family_id: &str,
        name: &str,
        level: &str,
        max_children: u32,
        now: DateTime<Utc>,
    ) -> Result<StudentRow, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $f = type::record('family', $family);
             UPDATE $f SET child_adds = (child_adds ?? 0) + 1 RETURN NONE;
             IF array::len((SELECT VALUE id FROM student WHERE family = $f)) >= $max {{
                 THROW 'conflict: a family may have at most ' + <string>$max + ' children';
             }};
             CREATE type::record('student', $id) SET family = $f,
                 name = $name, level = $level, created_at = <datetime>$now RETURN NONE;
             SELECT {STUDENT_FIELDS} FROM ONLY type::record('student', $id);
             COMMIT TRANSACTION;"
        );
        let vars = json!({
            "id": new_key(), "family": family_id, "name": name, "level": level,
            "max": max_children, "now": ts(now),
        });
        self.row(&sql, vars, 5).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::tests::mem_store;
    use crate::{NewUser, Refusal};
    use cms_domain::Role;

    async fn family(store: &Store) -> String {
        let parent = NewUser {
            email: "p@x.test",
            password_hash: "$argon2id$fake",
            name: "P",
            role: Role::Parent,
            phone: None,
            timezone: "Europe/London",
            family_id: None,
        };
        let p = store.create_user(parent, Utc::now()).await.expect("parent");
        p.family_id.expect("family")
    }

    #[tokio::test]
    async fn a_family_holds_at_most_the_cap() {
        let store = mem_store().await;
        let fam = family(&store).await;
        for i in 0..3 {
            store
                .create_student(&fam, &format!("Kid {i}"), "GCSE", 3, Utc::now())
                .await
                .expect("under the cap");
        }
        let refused = store
            .create_student(&fam, "One more", "GCSE", 3, Utc::now())
            .await;
        assert!(
            matches!(&refused, Err(StoreError::Refused(Refusal::Other(m))) if m.contains("at most 3 children")),
            "{refused:?}"
        );
        assert_eq!(store.students(&fam).await.expect("list").len(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_adds_do_not_pass_the_cap() {
        let store = mem_store().await;
        let fam = family(&store).await;
        let adds = (0..12).map(|i| {
            let (store, fam) = (store.clone(), fam.clone());
            tokio::spawn(async move {
                store
                    .create_student(&fam, &format!("Kid {i}"), "GCSE", 4, Utc::now())
                    .await
            })
        });
        let (mut made, mut refused, mut conflicts) = (0, 0, 0);
        for add in adds.collect::<Vec<_>>() {
            match add.await.expect("task") {
                Ok(_) => made += 1,
                Err(StoreError::Refused(_)) => refused += 1,
                Err(StoreError::Conflict(_)) => conflicts += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(made <= 4, "{made} children made past a cap of 4");
        assert_eq!(made + refused + conflicts, 12);
        assert_eq!(store.students(&fam).await.expect("list").len(), made);
    }
}
