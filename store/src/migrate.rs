//! Ordered SurrealQL migrations, embedded at build time and recorded in the
//! `migration` table so that each runs once.

use serde_json::json;

use super::{Store, StoreError};

pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every file in `migrations/`, in order. A test checks this list against
/// the directory.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_init.surql",
        sql: include_str!("../../migrations/0001_init.surql"),
    },
    Migration {
        name: "0002_scheduling.surql",
        sql: include_str!("../../migrations/0002_scheduling.surql"),
    },
    Migration {
        name: "0003_notifications.surql",
        sql: include_str!("../../migrations/0003_notifications.surql"),
    },
    Migration {
        name: "0004_limits.surql",
        sql: include_str!("../../migrations/0004_limits.surql"),
    },
    Migration {
        name: "0005_children_cap.surql",
        sql: include_str!("../../migrations/0005_children_cap.surql"),
    },
    Migration {
        name: "0006_lesson_lifecycle.surql",
        sql: include_str!("../../migrations/0006_lesson_lifecycle.surql"),
    },
    Migration {
        name: "0007_lesson_timers.surql",
        sql: include_str!("../../migrations/0007_lesson_timers.surql"),
    },
    Migration {
        name: "0008_documents.surql",
        sql: include_str!("../../migrations/0008_documents.surql"),
    },
    Migration {
        name: "0009_homework.surql",
        sql: include_str!("../../migrations/0009_homework.surql"),
    },
    Migration {
        name: "0010_ratings.surql",
        sql: include_str!("../../migrations/0010_ratings.surql"),
    },
    Migration {
        name: "0011_ledger.surql",
        sql: include_str!("../../migrations/0011_ledger.surql"),
    },
    Migration {
        name: "0012_billing.surql",
        sql: include_str!("../../migrations/0012_billing.surql"),
    },
    Migration {
        name: "0013_payout_accounts.surql",
        sql: include_str!("../../migrations/0013_payout_accounts.surql"),
    },
    Migration {
        name: "0014_charges.surql",
        sql: include_str!("../../migrations/0014_charges.surql"),
    },
    Migration {
        name: "0015_payment_notices.surql",
        sql: include_str!("../../migrations/0015_payment_notices.surql"),
    },
    Migration {
        name: "0016_payouts.surql",
        sql: include_str!("../../migrations/0016_payouts.surql"),
    },
    Migration {
        name: "0017_reconcile.surql",
        sql: include_str!("../../migrations/0017_reconcile.surql"),
    },
    Migration {
        name: "0018_packages.surql",
        sql: include_str!("../../migrations/0018_packages.surql"),
    },
    Migration {
        name: "0019_family_statements.surql",
        sql: include_str!("../../migrations/0019_family_statements.surql"),
    },
    Migration {
        name: "0020_message_keys.surql",
        sql: include_str!("../../migrations/0020_message_keys.surql"),
    },
];

impl Store {
    /// Applies the migrations not yet recorded, each in its own transaction
    /// together with its record, so a failed file leaves nothing behind.
    pub async fn migrate(&self, migrations: &[Migration]) -> Result<usize, StoreError> {
        self.db
            .query(
                "DEFINE TABLE IF NOT EXISTS migration SCHEMAFULL;
                 DEFINE FIELD IF NOT EXISTS name ON migration TYPE string;
                 DEFINE FIELD IF NOT EXISTS applied_at ON migration TYPE datetime;
                 DEFINE INDEX IF NOT EXISTS migration_name ON migration FIELDS name UNIQUE;",
            )
            .await
            .and_then(|r| r.check())
            .map_err(|e| StoreError::Migration {
                file: "(migration table)".into(),
                message: e.to_string(),
            })?;
        let done: Vec<String> = self
            .rows("SELECT VALUE name FROM migration", json!({}), 0)
            .await?;
        let mut applied = 0;
        for m in migrations {
            if done.iter().any(|d| d == m.name) {
                continue;
            }
            let sql = format!(
                "BEGIN TRANSACTION;\n{}\n;CREATE migration SET name = $name, applied_at = time::now();\nCOMMIT TRANSACTION;",
                m.sql
            );
            let fail = |message: String| StoreError::Migration {
                file: m.name.to_owned(),
                message,
            };
            let mut resp = self
                .db
                .query(sql)
                .bind(("name", m.name))
                .await
                .map_err(|e| fail(e.to_string()))?;
            if let Some(e) = super::root_error(resp.take_errors()) {
                return Err(fail(e.to_string()));
            }
            tracing::info!(file = m.name, "migration applied");
            applied += 1;
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseConfig;

    fn mem() -> DatabaseConfig {
        DatabaseConfig {
            url: "mem://".into(),
            ..DatabaseConfig::default()
        }
    }

    #[test]
    fn the_list_matches_the_directory() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".surql"))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, listed);
    }

    #[tokio::test]
    async fn second_run_is_a_no_op() {
        let store = Store::open(&mem()).await.expect("open");
        assert_eq!(store.migrate(MIGRATIONS).await.expect("again"), 0);
    }

    #[tokio::test]
    async fn a_failing_migration_names_its_file_and_leaves_nothing() {
        let store = Store::open(&mem()).await.expect("open");
        let bad = [Migration {
            name: "0002_broken.surql",
            sql: "DEFINE TABLE half SCHEMAFULL; DEFINE FIELD x ON half TYPE nonsense_type;",
        }];
        let err = store.migrate(&bad).await.expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("0002_broken.surql"), "{text}");
        let recorded: Vec<String> = store
            .rows("SELECT VALUE name FROM migration", json!({}), 0)
            .await
            .expect("read");
        assert!(!recorded.iter().any(|n| n == "0002_broken.surql"));
    }
}
