//! The SurrealDB store: the source of truth for everything the server keeps.
//!
//! `database.url` picks the engine: `surrealkv://<dir>` (embedded, durable),
//! `mem://` (tests), or `ws://host:port` (a SurrealDB server). Rows come back
//! as JSON values and are read into serde types in each module here.
//!
//! Correlated subqueries: a field like `(SELECT … FROM event WHERE lesson =
//! $parent.id)` is planned without its index in SurrealDB 3.3 and scans the
//! whole table once per outer row, so a read grows with everything ever
//! written. Each such subquery is a block that binds the outer field first,
//! `{ LET $lesson = $parent.id; SELECT … WHERE lesson = $lesson }` (no
//! RETURN: in a block it would end the whole statement),
//! which the planner serves from the index (BENCHMARKS.md, "lesson-rush").

pub mod billing;
pub mod board;
pub mod catalog;
pub mod charges;
pub mod chat;
pub mod chat_batch;
mod config;
pub mod conversations;
mod credits;
pub mod documents;
mod feeds;
pub mod homework;
pub mod ledger;
pub mod lessons;
mod limits;
pub mod live;
mod migrate;
pub mod notify;
pub mod packages;
pub mod payouts;
pub mod ratings;
mod sessions;
mod students;
pub mod timers;
pub mod tutors;
mod users;

use std::time::Duration;

use cms_domain::Refusal;
use serde::de::DeserializeOwned;
use serde_json::Value;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;

pub use catalog::{SubjectRow, TemplateRow};
pub use config::DatabaseConfig;
pub use conversations::{ConversationRow, ConversationSummary, RevisionRow};
pub use credits::CreditRow;
pub use migrate::{MIGRATIONS, Migration};
pub use sessions::SessionUser;
pub use students::StudentRow;
pub use tutors::{Teaching, TutorProfile};
pub use users::{NewUser, UserRow};

/// Times a transaction that lost a write conflict is tried again.
const CONFLICT_RETRIES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not open the database at {url}")]
    Connect {
        url: String,
        #[source]
        source: surrealdb::Error,
    },
    #[error("migration {file} failed: {message}")]
    Migration { file: String, message: String },
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Duplicate(String),
    #[error("refused by the schema: {0}")]
    Invalid(String),
    /// A rule checked inside a transaction refused the change; nothing
    /// was written.
    #[error("{0}")]
    Refused(Refusal),
    #[error("write conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("unexpected row shape: {0}")]
    Decode(#[from] serde_json::Error),
}

impl From<surrealdb::Error> for StoreError {
    fn from(e: surrealdb::Error) -> Self {
        classify(&e)
    }
}

/// Sorts a database error into what callers act on, by its kind; the
/// text is kept only for the log.
fn classify(e: &surrealdb::Error) -> StoreError {
    use surrealdb::types::{ErrorDetails, QueryError};
    let msg = e.to_string();
    if e.is_thrown() {
        return refusal(e.message()).map_or(StoreError::Database(msg), StoreError::Refused);
    }
    match e.details() {
        ErrorDetails::AlreadyExists(_) => StoreError::Duplicate(msg),
        ErrorDetails::Query(Some(QueryError::TransactionConflict)) => StoreError::Conflict(msg),
        ErrorDetails::Validation(_) => StoreError::Invalid(msg),
        // Unique-index and schema-assert failures arrive as plain
        // internal errors in SurrealDB 3.3; their wording is the only
        // thing that tells them apart.
        _ if msg.contains("already contains") || msg.contains("already exists") => {
            StoreError::Duplicate(msg)
        }
        _ if msg.contains("can be retried") || msg.contains("conflict") => {
            StoreError::Conflict(msg)
        }
        // SurrealDB writes "Couldn't coerce value for field …".
        _ if msg.contains("assert") || msg.to_lowercase().contains("couldn't coerce") => {
            StoreError::Invalid(msg)
        }
        _ => StoreError::Database(msg),
    }
}

/// Reads a rule's `THROW 'code: message'` into a typed refusal. A code this
/// store does not write is a bug, not a refusal: `None`.
fn refusal(thrown: &str) -> Option<Refusal> {
    let thrown = thrown
        .split_once("An error occurred: ")
        .map_or(thrown, |(_, t)| t);
    let (code, message) = thrown.split_once(": ")?;
    Some(match code {
        "stale" => Refusal::StaleVersion,
        "gone" => Refusal::JobGone,
        "tutor_not_booking" => Refusal::TutorNotBooking,
        "no_credit" => Refusal::NoCredit,
        "no_package" => Refusal::NoPackage,
        "conflict" => Refusal::Other(message.to_owned()),
        other => Refusal::DbsNotValid(cms_domain::documents::DbsGap::parse(other)?),
    })
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Surreal<Any>,
}

impl Store {
    /// Opens the database and applies pending migrations.
    pub async fn open(cfg: &DatabaseConfig) -> Result<Self, StoreError> {
        let url = engine_url(&cfg.url);
        if let Some(dir) = url.strip_prefix("surrealkv://") {
            let dir = dir.split('?').next().unwrap_or(dir);
            // The engine wants the parent to exist.
            if let Some(parent) = std::path::Path::new(dir).parent() {
                let _ = std::fs::create_dir_all(parent);
            }
        }
        let connect_err = |source| StoreError::Connect {
            url: cfg.url.clone(),
            source,
        };
        let db = surrealdb::engine::any::connect(url.as_str())
            .await
            .map_err(connect_err)?;
        if let (Some(username), Some(password)) = (&cfg.username, &cfg.password) {
            db.signin(surrealdb::opt::auth::Root {
                username: username.clone(),
                password: password.clone(),
            })
            .await
            .map_err(connect_err)?;
        }
        db.use_ns(&cfg.namespace)
            .use_db(&cfg.database)
            .await
            .map_err(connect_err)?;
        let store = Self { db };
        store.migrate(MIGRATIONS).await?;
        Ok(store)
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.value("RETURN 1", serde_json::json!({}), 0)
            .await
            .map(|_| ())
    }

    /// The token signing key: from config, else one kept in the database
    /// (made on first start) so all nodes and restarts share it.
    pub async fn token_secret(&self) -> Result<String, StoreError> {
        let fresh = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.secret_setting("jwt_secret", &fresh).await
    }

    /// The secret kept under `name`, or `fresh` kept now if there is none.
    /// Two nodes starting at once agree: the second reads the first's.
    pub async fn secret_setting(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        let read = "SELECT VALUE value FROM ONLY type::record('setting', $name)";
        let vars = serde_json::json!({ "name": name, "v": fresh });
        if let Value::String(s) = self.value(read, vars.clone(), 0).await? {
            return Ok(s);
        }
        let create = "CREATE type::record('setting', $name) SET value = $v RETURN NONE";
        match self.value(create, vars.clone(), 0).await {
            Ok(_) => Ok(fresh.to_owned()),
            // Another node made it first.
            Err(StoreError::Duplicate(_)) => match self.value(read, vars, 0).await? {
                Value::String(s) => Ok(s),
                _ => Err(StoreError::NotFound),
            },
            Err(e) => Err(e),
        }
    }

    /// Raw SurrealQL for tests and benchmark tools: statement `idx`'s
    /// result as JSON. The server itself goes through the typed methods.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn execute(&self, sql: &str, vars: Value, idx: usize) -> Result<Value, StoreError> {
        self.value(sql, vars, idx).await
    }

    /// Runs a query and reads statement `idx` as a list of rows.
    async fn rows<T: DeserializeOwned>(
        &self,
        sql: &str,
        vars: Value,
        idx: usize,
    ) -> Result<Vec<T>, StoreError> {
        let v = self.value(sql, vars, idx).await?;
        Ok(match v {
            Value::Null => Vec::new(),
            Value::Array(_) => serde_json::from_value(v)?,
            one => vec![serde_json::from_value(one)?],
        })
    }

    async fn row<T: DeserializeOwned>(
        &self,
        sql: &str,
        vars: Value,
        idx: usize,
    ) -> Result<T, StoreError> {
        self.rows(sql, vars, idx)
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)
    }

    /// Runs a query (all its statements) and returns statement `idx`'s result.
    async fn value(&self, sql: &str, vars: Value, idx: usize) -> Result<Value, StoreError> {
        let mut attempt = 0;
        loop {
            match self.value_once(sql, vars.clone(), idx).await {
                Err(StoreError::Conflict(_)) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(2 << attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn values_once(
        &self,
        sql: &str,
        vars: Value,
        idxs: &[usize],
    ) -> Result<Vec<Value>, StoreError> {
        let mut q = self.db.query(sql);
        if let Value::Object(map) = vars {
            for (k, v) in map.into_iter().filter(|(_, v)| !v.is_null()) {
                q = q.bind((k, v));
            }
        }
        let mut resp = q.await?;
        if let Some(e) = root_error(resp.take_errors()) {
            return Err(e.into());
        }
        let mut out = Vec::with_capacity(idxs.len());
        for &i in idxs {
            out.push(resp.take::<surrealdb::types::Value>(i)?.into_json_value());
        }
        Ok(out)
    }

    async fn value_once(&self, sql: &str, vars: Value, idx: usize) -> Result<Value, StoreError> {
        let mut v = self.values_once(sql, vars, &[idx]).await?;
        Ok(v.pop().unwrap_or(Value::Null))
    }

    /// Runs a query whose variables are SurrealDB's own values (record ids
    /// and datetimes as such, not text a query must convert) and answers
    /// nothing but whether it committed. Not retried: the caller decides.
    pub(crate) async fn run_native(
        &self,
        sql: &str,
        vars: surrealdb::types::Object,
    ) -> Result<(), StoreError> {
        let mut resp = self.db.query(sql).bind(vars).await?;
        match root_error(resp.take_errors()) {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

/// The error that caused a query to fail. In a failed transaction every
/// other statement reports only that the transaction failed.
pub(crate) fn root_error(
    errors: std::collections::HashMap<usize, surrealdb::Error>,
) -> Option<surrealdb::Error> {
    let mut errors: Vec<_> = errors.into_iter().collect();
    errors.sort_by_key(|(i, _)| *i);
    let cause = errors
        .iter()
        .position(|(_, e)| !e.to_string().contains("failed transaction"));
    match cause {
        Some(i) => Some(errors.swap_remove(i).1),
        None => errors.into_iter().next().map(|(_, e)| e),
    }
}

/// The URL handed to the engine. An embedded surrealkv store syncs every
/// commit to disk before acknowledging it unless the URL says otherwise, so
/// an acknowledged message survives `kill -9`.
pub fn engine_url(url: &str) -> String {
    if url.starts_with("surrealkv://") && !url.contains("sync=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sync=every")
    } else {
        url.to_owned()
    }
}

/// `v` with every null member of its objects left out, at any depth. A
/// bound parameter's JSON null is SurrealDB's NULL, which an `option<…>`
/// field refuses; left out, the member reads as NONE, which it takes.
pub(crate) fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// A fresh record key: time-ordered, URL- and topic-safe.
pub fn new_key() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// RFC 3339 text for binding a time (cast with `<datetime>` in queries).
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrealkv_urls_sync_every_commit() {
        assert_eq!(
            engine_url("surrealkv://data/db"),
            "surrealkv://data/db?sync=every"
        );
        assert_eq!(
            engine_url("surrealkv://d?x=1"),
            "surrealkv://d?x=1&sync=every"
        );
        assert_eq!(engine_url("surrealkv://d?sync=5s"), "surrealkv://d?sync=5s");
        assert_eq!(engine_url("mem://"), "mem://");
    }

    /// A rule's refusal comes back typed; a code the store never writes is
    /// a fault to log and answer 503, not a refusal to show as a 409.
    #[tokio::test]
    async fn thrown_codes_are_read_into_refusals_and_strangers_are_faults() {
        let store = crate::users::tests::mem_store().await;
        let err = |sql: &'static str| {
            let store = store.clone();
            async move { store.execute(sql, serde_json::json!({}), 0).await }
        };
        assert!(matches!(
            err("THROW 'stale: the lesson changed meanwhile'").await,
            Err(StoreError::Refused(Refusal::StaleVersion))
        ));
        assert!(matches!(
            err("THROW 'no_credit: none left'").await,
            Err(StoreError::Refused(Refusal::NoCredit))
        ));
        assert!(matches!(
            err("THROW 'conflict: something else'").await,
            Err(StoreError::Refused(Refusal::Other(m))) if m == "something else"
        ));
        assert!(matches!(
            err("THROW 'bogus: not a code of ours'").await,
            Err(StoreError::Database(_))
        ));
        assert!(matches!(
            err("THROW 'no code at all'").await,
            Err(StoreError::Database(_))
        ));
        // A unique record id taken twice is a duplicate, by its kind.
        assert!(err("CREATE setting:x SET value = '1'").await.is_ok());
        assert!(matches!(
            err("CREATE setting:x SET value = '2'").await,
            Err(StoreError::Duplicate(_))
        ));
    }
}
