//! A lesson as it happens: opening the room, starting, ending, a tutor's
//! no-show. Each transition is one transaction that checks the `version`
//! it was planned against (THROWing `stale` otherwise, read as
//! `Refusal::StaleVersion`), raises it, writes the new status and appends
//! the `lesson_event` recording it. Two requests or two nodes racing to
//! start one lesson both write the lesson row: one commits, the other
//! conflicts, is retried, finds the version moved and is refused, so the
//! lesson is started once and logged once.

use chrono::{DateTime, Utc};
use cms_domain::lesson::{Attendance, LessonStatus};
use cms_domain::lifecycle::LessonEventKind;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::charges::CREATE_CHARGES;
pub use super::charges::NewCharge;
use super::ledger::{KeyedEntry, POST_ENTRIES};
use super::lessons::{NewCredit, statuses};
use super::notify::NewJob;
use super::{Store, StoreError, new_key, ts};

/// One student's attendance as stored: `chargeable` marks the seat for
/// billing (the use case sets it from `Attendance::chargeable`).
#[derive(Debug, Clone, Serialize)]
pub struct AttendanceRow {
    pub student: String,
    pub status: Attendance,
    pub chargeable: bool,
}

/// A lifecycle transition of one lesson, planned against `version`. Empty
/// options are left out, not sent as null: SurrealDB reads a missing field
/// as NONE, which `option<…>` fields hold, but refuses a null.
#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    pub lesson: String,
    pub version: u32,
    pub to: LessonStatus,
    pub event: LessonEventKind,
    /// The user who made it; `None` for the server itself (a timer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Set when the lesson goes live: `started_at`/`started_by`.
    pub starts: bool,
    /// Set when the lesson ends: `ended_at`/`ended_by`, and the three below.
    pub ends: bool,
    pub attendance: Vec<AttendanceRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homework_hint: Option<String>,
    /// Flag the lesson for an admin (a no-show, a lesson the server ended).
    pub needs_review: bool,
    /// Record that lateness was said (`late_at`): refused as stale if it
    /// already was, so it is said once.
    pub late: bool,
    /// Makeup credits issued with it (a tutor's no-show).
    pub credits: Vec<NewCredit>,
    /// Give every package lesson paying for it back (a tutor's no-show).
    pub return_units: bool,
    /// Notification jobs created with it (the no-show notice).
    pub jobs: Vec<NewJob>,
    /// Charges made with it (a completion, when billing is on), and the
    /// journal entries they make.
    pub charges: Vec<NewCharge>,
    pub entries: Vec<KeyedEntry>,
}

impl Transition {
    /// A transition with nothing but the status and its event.
    pub fn new(
        lesson: &str,
        version: u32,
        to: LessonStatus,
        event: LessonEventKind,
        by: Option<&str>,
    ) -> Self {
        Self {
            lesson: lesson.to_owned(),
            version,
            to,
            event,
            by: by.map(str::to_owned),
            detail: None,
            starts: false,
            ends: false,
            attendance: Vec::new(),
            notes: None,
            homework_hint: None,
            needs_review: false,
            late: false,
            credits: Vec::new(),
            return_units: false,
            jobs: Vec::new(),
            charges: Vec::new(),
            entries: Vec::new(),
        }
    }
}

/// One entry of a lesson's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LessonEvent {
    pub id: String,
    pub at: DateTime<Utc>,
    /// The user; absent for the server itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    pub kind: LessonEventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

const TRANSITION_SQL: &str = "BEGIN TRANSACTION;
LET $l = type::record('lesson', $t.lesson);
IF (SELECT VALUE version FROM ONLY $l) != $t.version {
    THROW 'stale: the lesson changed meanwhile';
};
LET $by = IF $t.by THEN type::record('user', $t.by) ELSE NONE END;
UPDATE $l SET status = $t.to, version += 1, updated_at = <datetime>$now,
    needs_review = needs_review OR $t.needs_review RETURN NONE;
IF $t.late {
    IF (SELECT VALUE late_at FROM ONLY $l) != NONE {
        THROW 'stale: the lateness was already said';
    };
    UPDATE $l SET late_at = <datetime>$now RETURN NONE;
};
IF $t.starts {
    UPDATE $l SET started_at = <datetime>$now, started_by = $by RETURN NONE;
};
IF $t.ends {
    UPDATE $l SET ended_at = <datetime>$now, ended_by = $by, notes = $t.notes,
        homework_hint = $t.homework_hint,
        attendance = array::map($t.attendance, |$a| {
            student: type::record('student', $a.student), status: $a.status,
            chargeable: $a.chargeable
        }) RETURN NONE;
};
-- A lesson over (or never held) frees its cells, as a cancelled one does:
-- one ended early leaves the rest of its time bookable.
IF $t.to NOT IN $holding {
    DELETE busy WHERE lesson = $l RETURN NONE;
};
IF $t.to NOT IN $reminded {
    -- The lesson's jobs by its index first: a WHERE that also names the
    -- status makes the planner AND in the status index, a scan of every
    -- pending job in the store (35 ms a transition at 8,000 pending jobs).
    LET $jobs = SELECT VALUE id FROM notify_job WHERE lesson = $l;
    UPDATE $jobs SET status = 'withdrawn', note = 'lesson ' + $t.to, done_at = <datetime>$now
        WHERE kind = 'reminder' AND status = 'pending' RETURN NONE;
};
FOR $cr IN $t.credits {
    CREATE credit CONTENT {
        family: type::record('family', $cr.family), student: type::record('student', $cr.student),
        source: $l, reason: $cr.reason, created_at: <datetime>$now,
        expires_at: <datetime>$cr.expires_at
    } RETURN NONE;
};
IF $t.return_units {
    UPDATE (SELECT VALUE id FROM package_unit WHERE used_for = $l)
        SET used_for = NONE, student = NONE, used_at = NONE RETURN NONE;
};
FOR $j IN $t.jobs {
    CREATE type::record('notify_job', $j.key) CONTENT {
        kind: $j.kind, lesson: type::record('lesson', $j.lesson),
        lessons: array::map($j.lessons, |$x| type::record('lesson', $x)),
        families: array::map($j.families, |$f| type::record('family', $f)),
        offset_min: $j.offset_min, due_at: <datetime>$j.due_at,
        scheduled_at: <datetime>$j.due_at, status: 'pending', created_at: <datetime>$now
    } RETURN NONE;
};
{CREATE_CHARGES}
CREATE type::record('lesson_event', $event) CONTENT {
    lesson: $l, at: <datetime>$now, by: $by, kind: $t.event, detail: $t.detail
} RETURN NONE;
{POST_ENTRIES}
COMMIT TRANSACTION;";

impl Store {
    /// Applies one lifecycle transition, all or nothing: a stale plan is
    /// `Refused(Refusal::StaleVersion)` and writes nothing.
    pub async fn transition(&self, t: &Transition, now: DateTime<Utc>) -> Result<(), StoreError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            TRANSITION_SQL
                .replace("{CREATE_CHARGES}", CREATE_CHARGES)
                .replace("{POST_ENTRIES}", POST_ENTRIES)
        });
        let vars = json!({
            "t": t, "now": ts(now), "event": new_key(), "entries": t.entries,
            "charges": t.charges,
            "reminded": statuses(LessonStatus::gets_reminders),
            "holding": statuses(LessonStatus::holds_time),
        });
        self.value(&SQL, vars, 0).await.map(|_| ())
    }

    /// Clears a lesson's review flag and logs who did, together. `false`
    /// when the lesson was not flagged (nothing is written).
    pub async fn clear_review(
        &self,
        lesson: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = "BEGIN TRANSACTION;
             LET $l = type::record('lesson', $lesson);
             LET $flagged = (SELECT VALUE needs_review FROM ONLY $l) ?? false;
             IF $flagged {
                 UPDATE $l SET needs_review = false, version += 1, updated_at = <datetime>$now
                     RETURN NONE;
                 CREATE type::record('lesson_event', $event) CONTENT {
                     lesson: $l, at: <datetime>$now, by: type::record('user', $by),
                     kind: 'reviewed'
                 } RETURN NONE;
             };
             RETURN $flagged;
             COMMIT TRANSACTION;";
        let vars = json!({ "lesson": lesson, "by": by, "event": new_key(), "now": ts(now) });
        Ok(self.value(sql, vars, 4).await?.as_bool().unwrap_or(false))
    }

    /// Appends one entry to a lesson's log outside a transition: someone
    /// entering or leaving its room. Only the log is written.
    pub async fn log_lesson_event(
        &self,
        lesson: &str,
        by: Option<&str>,
        kind: LessonEventKind,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.value(
            "CREATE type::record('lesson_event', $event) CONTENT {
                 lesson: type::record('lesson', $lesson), at: <datetime>$now,
                 by: IF $by THEN type::record('user', $by) ELSE NONE END, kind: $kind
             } RETURN NONE",
            json!({ "event": new_key(), "lesson": lesson, "by": by, "kind": kind.as_str(), "now": ts(now) }),
            0,
        )
        .await
        .map(|_| ())
    }

    /// A lesson's log, oldest first (ties in insertion order: event keys
    /// are time-ordered).
    pub async fn lesson_events(&self, lesson: &str) -> Result<Vec<LessonEvent>, StoreError> {
        self.rows(
            "SELECT record::id(id) AS id, at, IF by THEN record::id(by) ELSE NONE END AS by,
                 kind, detail
             FROM lesson_event WHERE lesson = type::record('lesson', $lesson)
             ORDER BY at, id",
            json!({ "lesson": lesson }),
            0,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseConfig;
    use cms_domain::Refusal;

    async fn store_with_lesson() -> Store {
        let cfg = DatabaseConfig {
            url: "mem://".into(),
            ..DatabaseConfig::default()
        };
        let store = Store::open(&cfg).await.unwrap();
        store
            .value(
                "CREATE lesson:l1 CONTENT {
                    tutor: user:t1, students: [student:s1, student:s2], families: [family:f1],
                    kind: 'group', subject: subject:maths_gcse,
                    starts_at: d'2027-03-10T16:00:00Z', ends_at: d'2027-03-10T17:00:00Z',
                    timezone: 'Europe/London', local_start: '2027-03-10T16:00:00',
                    duration_min: 60, price_pence: 4000, status: 'booked',
                    booked_by: user:p1, version: 1,
                    created_at: time::now(), updated_at: time::now()
                 };
                 CREATE notify_job:j1 CONTENT {
                    kind: 'reminder', lesson: lesson:l1, lessons: [lesson:l1], families: [family:f1],
                    offset_min: 5, due_at: d'2027-03-10T15:55:00Z',
                    scheduled_at: d'2027-03-10T15:55:00Z', status: 'pending', created_at: time::now()
                 };
                 CREATE busy:['t:t1', 2000000] SET lesson = lesson:l1;",
                json!({}),
                0,
            )
            .await
            .unwrap();
        store
    }

    fn now() -> DateTime<Utc> {
        "2027-03-10T16:01:00Z".parse().unwrap()
    }

    /// Many writers planned against one version: exactly one starts the
    /// lesson, the others are refused as stale, and one event is logged.
    #[tokio::test]
    async fn only_one_of_many_concurrent_starts_wins() {
        let store = store_with_lesson().await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            let mut t = Transition::new(
                "l1",
                1,
                LessonStatus::Live,
                LessonEventKind::Started,
                Some(&format!("t{i}")),
            );
            t.starts = true;
            tasks.push(tokio::spawn(
                async move { store.transition(&t, now()).await },
            ));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(StoreError::Refused(Refusal::StaleVersion)) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(ok, 1);
        let events = store.lesson_events("l1").await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, LessonEventKind::Started);
        let row = store
            .value(
                "SELECT status, version, started_at != NONE AS started,
                     (SELECT VALUE status FROM ONLY notify_job:j1) AS reminder,
                     count(SELECT * FROM busy WHERE lesson = lesson:l1) AS held
                 FROM ONLY lesson:l1",
                json!({}),
                0,
            )
            .await
            .unwrap();
        assert_eq!(
            row,
            json!({
                "status": "live", "version": 2, "started": true, "reminder": "withdrawn", "held": 1,
            }),
            "a live lesson keeps its time; its pending reminders go with the start"
        );
    }

    #[tokio::test]
    async fn ending_records_attendance_and_charges_the_absent_seat() {
        let store = store_with_lesson().await;
        let mut start = Transition::new(
            "l1",
            1,
            LessonStatus::Live,
            LessonEventKind::Started,
            Some("t1"),
        );
        start.starts = true;
        store.transition(&start, now()).await.unwrap();
        let mut end = Transition::new(
            "l1",
            2,
            LessonStatus::Completed,
            LessonEventKind::Ended,
            Some("t1"),
        );
        end.ends = true;
        end.notes = Some("fractions".into());
        end.attendance = vec![
            AttendanceRow {
                student: "s1".into(),
                status: Attendance::Present,
                chargeable: false,
            },
            AttendanceRow {
                student: "s2".into(),
                status: Attendance::Absent,
                chargeable: true,
            },
        ];
        store.transition(&end, now()).await.unwrap();
        let row = store
            .value(
                "SELECT status, notes, ended_at != NONE AS ended,
                     array::map(attendance, |$a| [record::id($a.student), $a.status, $a.chargeable])
                         AS seats,
                     count(SELECT * FROM busy WHERE lesson = lesson:l1) AS held
                 FROM ONLY lesson:l1",
                json!({}),
                0,
            )
            .await
            .unwrap();
        assert_eq!(
            row,
            json!({
                "status": "completed", "notes": "fractions", "ended": true,
                "seats": [["s1", "present", false], ["s2", "absent", true]],
                "held": 0,
            }),
            "an ended lesson frees its cells"
        );
        // Planned against the version before the end: refused, nothing written.
        assert!(matches!(
            store.transition(&end, now()).await,
            Err(StoreError::Refused(Refusal::StaleVersion))
        ));
        let kinds: Vec<_> = store
            .lesson_events("l1")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, [LessonEventKind::Started, LessonEventKind::Ended]);
    }
}
