//! Reminder and notice jobs, their deliveries, in-app notifications,
//! preferences and SMS opt-outs.
//!
//! A job is created, moved or withdrawn inside the lesson transaction
//! (`lessons::APPLY`). A delivery row keyed by (job, channel, recipient) is
//! created before a provider is called, in a transaction that first checks
//! the job is still pending; that key is what makes a second attempt, after
//! a retry or a restart, find the first instead of sending again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use cms_domain::notify::{Channel, DeliveryStatus, JobKind, JobStatus};
use cms_domain::{Refusal, Role};
use cms_protocol::notify::Notification;

use super::{Store, StoreError, ts};

/// A job to create with a lesson change.
#[derive(Debug, Clone, Serialize)]
pub struct NewJob {
    pub key: String,
    pub kind: JobKind,
    pub lesson: String,
    pub lessons: Vec<String>,
    pub families: Vec<String>,
    /// Left out when None: the schema's `option<int>` takes NONE, not null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_min: Option<u32>,
    pub due_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JobRow {
    pub key: String,
    pub kind: JobKind,
    /// What the job is about: a lesson, or (a DBS reminder) a document.
    #[serde(default)]
    pub lesson: Option<String>,
    #[serde(default)]
    pub document: Option<String>,
    /// A homework notice: the homework and the child.
    #[serde(default)]
    pub homework: Option<String>,
    #[serde(default)]
    pub student: Option<String>,
    /// A payment notice: the charge's key (`lesson:family:purpose`).
    #[serde(default)]
    pub charge: Option<String>,
    /// A payout statement: the payout's key (`tutor:week`).
    #[serde(default)]
    pub payout: Option<String>,
    /// A family statement: its month, `YYYY-MM`.
    #[serde(default)]
    pub month: Option<String>,
    #[serde(default)]
    pub lessons: Vec<String>,
    #[serde(default)]
    pub families: Vec<String>,
    #[serde(default)]
    pub offset_min: Option<u32>,
    pub due_at: DateTime<Utc>,
    pub scheduled_at: DateTime<Utc>,
    pub status: JobStatus,
}

const JOB_FIELDS: &str = "record::id(id) AS key, kind, \
     IF lesson THEN record::id(lesson) ELSE NONE END AS lesson, \
     IF document THEN record::id(document) ELSE NONE END AS document, \
     IF homework THEN record::id(homework) ELSE NONE END AS homework, \
     IF student THEN record::id(student) ELSE NONE END AS student, charge, payout, month, \
     array::map(lessons, |$l| record::id($l)) AS lessons, \
     array::map(families, |$f| record::id($f)) AS families, \
     offset_min, due_at, scheduled_at, status";

/// Someone a job's messages go to.
#[derive(Debug, Clone, Deserialize)]
pub struct Recipient {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    #[serde(default)]
    pub phone: Option<String>,
    pub timezone: chrono_tz::Tz,
    #[serde(default)]
    pub family_id: Option<String>,
    #[serde(default)]
    pub notify: Option<Value>,
    /// The phone texted STOP.
    #[serde(default)]
    pub sms_stopped: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryRow {
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub provider_id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What `begin_delivery` found.
#[derive(Debug)]
pub enum Begun {
    /// A fresh row, status `sending`, attempt 1: go ahead.
    New,
    /// A row from an earlier attempt.
    Existing(DeliveryRow),
    /// The job is no longer pending (withdrawn meanwhile): send nothing.
    JobGone,
}

/// A delivery's next state. None fields are left out, not sent as null:
/// the schema's `option<…>` fields take NONE.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryUpdate<'a> {
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

const NOTIFICATION_FIELDS: &str = "record::id(id) AS id, kind, text, \
     IF occurrence THEN record::id(occurrence) ELSE NONE END AS occurrence_id, \
     created_at, read_at != NONE AS read";

fn delivery_id(job: &str, channel: Channel, user: &str) -> Value {
    json!([job, channel.as_str(), user])
}

impl Store {
    /// Pending jobs due by `now`, oldest first.
    pub async fn due_jobs(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!(
            "SELECT {JOB_FIELDS} FROM notify_job
             WHERE status = 'pending' AND due_at <= <datetime>$now
             ORDER BY due_at LIMIT $limit"
        );
        self.rows(&sql, json!({ "now": ts(now), "limit": limit }), 0)
            .await
    }

    /// When the next pending job falls due.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let v = self
            .value(
                "SELECT VALUE due_at FROM notify_job WHERE status = 'pending'
                 ORDER BY due_at LIMIT 1",
                json!({}),
                0,
            )
            .await?;
        Ok(serde_json::from_value::<Vec<DateTime<Utc>>>(v)?
            .into_iter()
            .next())
    }

    pub async fn job(&self, key: &str) -> Result<JobRow, StoreError> {
        let sql = format!("SELECT {JOB_FIELDS} FROM type::record('notify_job', $key)");
        self.row(&sql, json!({ "key": key }), 0).await
    }

    /// Jobs of a lesson, for tests and admin views.
    pub async fn lesson_jobs(&self, lesson: &str) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!(
            "SELECT {JOB_FIELDS} FROM notify_job
             WHERE lesson = type::record('lesson', $lesson) ORDER BY scheduled_at"
        );
        self.rows(&sql, json!({ "lesson": lesson }), 0).await
    }

    /// Ends a pending job: sent, failed, skipped or withdrawn.
    pub async fn finish_job(
        &self,
        key: &str,
        status: JobStatus,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.value(
            "UPDATE type::record('notify_job', $key) SET status = $status, note = $note,
                 done_at = <datetime>$now WHERE status = 'pending' RETURN NONE",
            json!({ "key": key, "status": status, "note": note, "now": ts(now) }),
            0,
        )
        .await
        .map(|_| ())
    }

    /// Looks at a pending job again at `at` (a delivery waits to retry).
    pub async fn defer_job(&self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.value(
            "UPDATE type::record('notify_job', $key) SET due_at = <datetime>$at
                 WHERE status = 'pending' RETURN NONE",
            json!({ "key": key, "at": ts(at) }),
            0,
        )
        .await
        .map(|_| ())
    }

    /// The parents of `families` and the tutor (none: `""`), with what
    /// decides their channels.
    pub async fn recipients(
        &self,
        families: &[String],
        tutor: &str,
    ) -> Result<Vec<Recipient>, StoreError> {
        self.rows(
            "LET $fams = array::map($families, |$f| type::record('family', $f));
             LET $tutor_user = IF $tutor THEN type::record('user', $tutor) ELSE NONE END;
             SELECT record::id(id) AS id, name, email, role, phone, timezone, notify,
                 IF family THEN record::id(family) ELSE NONE END AS family_id,
                 (phone != NONE AND record::exists(type::record('sms_optout', phone ?? ''))) AS sms_stopped
             FROM user
             WHERE (role = 'parent' AND family IN $fams) OR id = $tutor_user
             ORDER BY role, name",
            json!({ "families": families, "tutor": tutor }),
            2,
        )
        .await
    }

    /// Claims (job, channel, user) for a send. The job must still be
    /// pending: a cancellation that committed first withdraws it, and then
    /// nothing is sent.
    pub async fn begin_delivery(
        &self,
        job: &str,
        channel: Channel,
        user: &str,
        address: &str,
        body: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Begun, StoreError> {
        let sql = "BEGIN TRANSACTION;
            IF (SELECT VALUE status FROM ONLY type::record('notify_job', $job)) != 'pending' {
                THROW 'gone: the job is no longer pending';
            };
            CREATE type::record('delivery', $id) CONTENT {
                job: type::record('notify_job', $job), channel: $channel,
                user: type::record('user', $user), address: $address, body: $body,
                status: 'sending', attempts: 1,
                created_at: <datetime>$now, updated_at: <datetime>$now
            } RETURN NONE;
            COMMIT TRANSACTION;";
        let vars = json!({
            "job": job, "id": delivery_id(job, channel, user), "channel": channel,
            "user": user, "address": address, "body": body, "now": ts(now),
        });
        match self.value(sql, vars, 0).await {
            Ok(_) => Ok(Begun::New),
            Err(StoreError::Refused(Refusal::JobGone)) => Ok(Begun::JobGone),
            Err(StoreError::Duplicate(_)) => Ok(Begun::Existing(
                self.row(
                    "SELECT status, attempts, next_attempt_at, provider_id, body, created_at
                     FROM type::record('delivery', $id)",
                    json!({ "id": delivery_id(job, channel, user) }),
                    0,
                )
                .await?,
            )),
            Err(e) => Err(e),
        }
    }

    pub async fn update_delivery(
        &self,
        job: &str,
        channel: Channel,
        user: &str,
        u: &DeliveryUpdate<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.value(
            "UPDATE type::record('delivery', $id) SET status = $u.status, attempts = $u.attempts,
                 next_attempt_at = IF $u.next_attempt_at THEN <datetime>$u.next_attempt_at ELSE NONE END,
                 provider_id = $u.provider_id ?? provider_id, error = $u.error,
                 sent_at = IF $u.status = 'sent' THEN <datetime>$now ELSE sent_at END,
                 updated_at = <datetime>$now RETURN NONE",
            json!({ "id": delivery_id(job, channel, user), "u": u, "now": ts(now) }),
            0,
        )
        .await
        .map(|_| ())
    }

    /// Twilio's status callback: `delivered` or `failed` for a sent SMS.
    /// Returns whether a delivery had that message id.
    pub async fn sms_status(
        &self,
        provider_id: &str,
        status: DeliveryStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let v = self
            .value(
                "UPDATE delivery SET status = $status, error = $error ?? error,
                     updated_at = <datetime>$now
                 WHERE provider_id = $sid AND channel = 'sms' RETURN VALUE id",
                json!({ "sid": provider_id, "status": status, "error": error, "now": ts(now) }),
                0,
            )
            .await?;
        Ok(v.as_array().is_some_and(|a| !a.is_empty()))
    }

    /// The delivery a provider's message id belongs to.
    pub async fn delivery_by_provider(&self, provider_id: &str) -> Result<Value, StoreError> {
        self.row(
            "SELECT channel, record::id(user) AS user_id, address, status, attempts, error
             FROM delivery WHERE provider_id = $sid",
            json!({ "sid": provider_id }),
            0,
        )
        .await
    }

    /// Deliveries of a job: (channel, user, status, attempts, address).
    pub async fn job_deliveries(&self, job: &str) -> Result<Vec<Value>, StoreError> {
        self.rows(
            "SELECT channel, record::id(user) AS user_id, address, status, attempts,
                 provider_id, error FROM delivery
             WHERE job = type::record('notify_job', $job) ORDER BY channel, user_id",
            json!({ "job": job }),
            0,
        )
        .await
    }

    /// An in-app delivery in one transaction: if the job is still pending
    /// and this (job, user) was not delivered before, records the delivery
    /// as sent and stores the notification. None when there is nothing to
    /// push (already delivered, or the job was withdrawn).
    #[allow(clippy::too_many_arguments)]
    pub async fn deliver_inapp(
        &self,
        job: &str,
        user: &str,
        id: &str,
        kind: JobKind,
        text: &str,
        occurrence: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Notification>, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
            IF (SELECT VALUE status FROM ONLY type::record('notify_job', $job)) != 'pending' {{
                THROW 'gone: the job is no longer pending';
            }};
            CREATE type::record('delivery', $did) CONTENT {{
                job: type::record('notify_job', $job), channel: 'inapp',
                user: type::record('user', $user), address: $user, status: 'sent',
                attempts: 1, provider_id: $id, created_at: <datetime>$now,
                updated_at: <datetime>$now, sent_at: <datetime>$now
            }} RETURN NONE;
            CREATE type::record('notification', $id) CONTENT {{
                user: type::record('user', $user), kind: $kind, text: $text,
                occurrence: IF $occ THEN type::record('lesson', $occ) ELSE NONE END,
                created_at: <datetime>$now
            }} RETURN {NOTIFICATION_FIELDS};
            COMMIT TRANSACTION;"
        );
        let vars = json!({
            "job": job, "did": delivery_id(job, Channel::InApp, user), "user": user, "id": id,
            "kind": kind, "text": text, "occ": occurrence, "now": ts(now),
        });
        match self.rows::<Notification>(&sql, vars, 3).await {
            Ok(rows) => Ok(rows.into_iter().next()),
            Err(StoreError::Duplicate(_)) => Ok(None),
            Err(StoreError::Refused(Refusal::JobGone)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A user's notifications, newest first.
    pub async fn notifications(
        &self,
        user: &str,
        unread_only: bool,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let sql = format!(
            "SELECT {NOTIFICATION_FIELDS}, created_at AS at FROM notification
             WHERE user = type::record('user', $user) AND ($all OR read_at = NONE)
             ORDER BY at DESC, id DESC LIMIT $limit"
        );
        self.rows(
            &sql,
            json!({ "user": user, "all": !unread_only, "limit": limit }),
            0,
        )
        .await
    }

    /// Marks some (or, with None, all) of a user's notifications read;
    /// returns how many changed.
    pub async fn mark_read(
        &self,
        user: &str,
        ids: Option<&[String]>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let v = self
            .value(
                "UPDATE notification SET read_at = <datetime>$now
                 WHERE user = type::record('user', $user) AND read_at = NONE
                   AND ($ids = NONE OR record::id(id) IN $ids)
                 RETURN VALUE id",
                json!({ "user": user, "ids": ids, "now": ts(now) }),
                0,
            )
            .await?;
        Ok(v.as_array().map_or(0, Vec::len))
    }

    pub async fn notify_prefs(&self, user: &str) -> Result<Option<Value>, StoreError> {
        let v = self
            .value(
                "SELECT VALUE notify FROM ONLY type::record('user', $user)",
                json!({ "user": user }),
                0,
            )
            .await?;
        Ok(match v {
            Value::Null => None,
            v => Some(v),
        })
    }

    pub async fn set_notify_prefs(&self, user: &str, prefs: &Value) -> Result<(), StoreError> {
        self.value(
            "UPDATE type::record('user', $user) SET notify = $prefs RETURN NONE",
            json!({ "user": user, "prefs": prefs }),
            0,
        )
        .await
        .map(|_| ())
    }

    /// STOP (true) or START (false) from a number.
    pub async fn set_sms_stopped(
        &self,
        phone: &str,
        stopped: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = if stopped {
            "UPSERT type::record('sms_optout', $phone) SET at = <datetime>$now RETURN NONE"
        } else {
            "DELETE type::record('sms_optout', $phone) RETURN NONE"
        };
        self.value(sql, json!({ "phone": phone, "now": ts(now) }), 0)
            .await
            .map(|_| ())
    }

    pub async fn sms_stopped(&self, phone: &str) -> Result<bool, StoreError> {
        let v = self
            .value(
                "RETURN record::exists(type::record('sms_optout', $phone))",
                json!({ "phone": phone }),
                0,
            )
            .await?;
        Ok(v == Value::Bool(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseConfig;

    async fn store() -> Store {
        let cfg = DatabaseConfig {
            url: "mem://".into(),
            ..DatabaseConfig::default()
        };
        Store::open(&cfg).await.unwrap()
    }

    async fn job(store: &Store, key: &str, now: DateTime<Utc>) {
        store
            .value(
                "CREATE type::record('notify_job', $key) CONTENT {
                    kind: 'booked', lesson: lesson:l1, due_at: <datetime>$now,
                    scheduled_at: <datetime>$now, status: 'pending', created_at: <datetime>$now
                }",
                json!({ "key": key, "now": ts(now) }),
                0,
            )
            .await
            .unwrap();
    }

    /// The delivery key is claimed once; a second claim sees the first.
    #[tokio::test]
    async fn a_delivery_is_claimed_once_and_not_after_the_job_is_withdrawn() {
        let store = store().await;
        let now = Utc::now();
        job(&store, "j1", now).await;
        assert!(matches!(
            store
                .begin_delivery("j1", Channel::Email, "u1", "a@x.test", None, now)
                .await
                .unwrap(),
            Begun::New
        ));
        let u = DeliveryUpdate {
            status: DeliveryStatus::Sent,
            attempts: 1,
            next_attempt_at: None,
            provider_id: Some("m1"),
            error: None,
        };
        store
            .update_delivery("j1", Channel::Email, "u1", &u, now)
            .await
            .unwrap();
        match store
            .begin_delivery("j1", Channel::Email, "u1", "a@x.test", None, now)
            .await
            .unwrap()
        {
            Begun::Existing(d) => {
                assert_eq!(d.status, DeliveryStatus::Sent);
                assert_eq!(d.provider_id.as_deref(), Some("m1"));
            }
            other => panic!("{other:?}"),
        }
        store
            .finish_job("j1", JobStatus::Withdrawn, None, now)
            .await
            .unwrap();
        assert!(matches!(
            store
                .begin_delivery("j1", Channel::Sms, "u1", "+44", Some("hi"), now)
                .await
                .unwrap(),
            Begun::JobGone
        ));
    }

    #[tokio::test]
    async fn notifications_are_stored_once_and_read_marks_stick() {
        let store = store().await;
        let now = Utc::now();
        job(&store, "j1", now).await;
        let deliver = |id: &'static str| {
            let store = store.clone();
            async move {
                store
                    .deliver_inapp("j1", "u1", id, JobKind::Booked, "hello", Some("l1"), now)
                    .await
                    .unwrap()
            }
        };
        let n = deliver("j1.u1").await.expect("new");
        assert_eq!((n.kind.as_str(), n.read), ("booked", false));
        assert!(deliver("j1.u1").await.is_none(), "delivered once");
        assert_eq!(store.notifications("u1", false, 10).await.unwrap().len(), 1);
        assert_eq!(store.mark_read("u1", None, now).await.unwrap(), 1);
        assert!(
            store
                .notifications("u1", true, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A withdrawn job delivers nothing more.
        store
            .finish_job("j1", JobStatus::Withdrawn, None, now)
            .await
            .unwrap();
        job(&store, "j2", now).await;
        assert!(
            store
                .deliver_inapp(
                    "j1",
                    "u2",
                    "j1.u2",
                    JobKind::Booked,
                    "hello",
                    Some("l1"),
                    now
                )
                .await
                .unwrap()
                .is_none()
        );
    }
}
