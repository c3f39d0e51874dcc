//! What the admins' board reads (`admin:monitor`, docs/lessons.md
//! "Board"): the lessons around now with their tutor, students, status and
//! the lesson_event entries that raise alerts. Who is in a lesson's room is
//! not stored (it is the room actor's presence), and which alerts are
//! still open is the server's rule over what is read here.

use chrono::{DateTime, Duration, Utc};
use cms_domain::lesson::LessonStatus;
use cms_domain::lifecycle::LessonEventKind;
use cms_protocol::calendar::{Person, StudentRef};
use serde::Deserialize;
use serde_json::json;

use super::{Store, StoreError, ts};

/// No lesson runs longer than this: the window query scans starts from this
/// long before the window opens, so it stays on the `starts_at` index.
const LONGEST_LESSON_HOURS: i64 = 24;

/// A lesson_event the board raises an alert from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AlertEvent {
    pub kind: LessonEventKind,
    pub at: DateTime<Utc>,
}

/// One lesson as the board reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct BoardRow {
    pub id: String,
    pub status: LessonStatus,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub subject: String,
    pub level: String,
    pub tutor: Person,
    pub students: Vec<StudentRef>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    /// Flagged for an admin and not yet cleared.
    pub needs_review: bool,
    pub version: u32,
    /// The lesson's `late`, `no_show` and `auto_ended` events, oldest first.
    pub alert_events: Vec<AlertEvent>,
    /// The tutor needs a DBS and none counts now (lapsed, missing,
    /// rejected, or waiting for its check): booked before, kept, watched.
    #[serde(default)]
    pub tutor_without_dbs: bool,
}

/// The correlated subqueries bind `$parent`'s field with a LET in a block
/// first: written straight into their WHERE, SurrealDB 3.3 plans no index
/// and scans the whole table for every row (25 ms a row at 9,000 lesson
/// events in a debug build; constant with the LET). See lib.rs.
const BOARD_FIELDS: &str = "record::id(id) AS id, status, starts_at AS start, ends_at AS `end`, \
     subject.name AS subject, subject.level AS level, \
     { id: record::id(tutor), name: tutor.name } AS tutor, \
     (SELECT record::id(id) AS id, name, record::id(family) AS family_id FROM $parent.students) AS students, \
     started_at, ended_at, needs_review ?? false AS needs_review, version, \
     { LET $lesson = $parent.id; \
       SELECT kind, at FROM lesson_event WHERE lesson = $lesson AND kind IN $alerting \
         ORDER BY at } AS alert_events, \
     { LET $tutor = $parent.tutor; \
       (SELECT VALUE dbs_required FROM ONLY type::record('tutor_profile', record::id($tutor))) ?? false \
         AND array::len(SELECT VALUE id FROM document WHERE tutor = $tutor AND kind = 'dbs' \
           AND status = 'verified' AND lapses_at > <datetime>$now LIMIT 1) = 0 } AS tutor_without_dbs";

/// The event kinds an alert is raised from.
fn alerting() -> [LessonEventKind; 3] {
    [
        LessonEventKind::Late,
        LessonEventKind::NoShow,
        LessonEventKind::AutoEnded,
    ]
}

impl Store {
    /// Lessons ending after `from` and starting before `to`, by start.
    pub async fn board_lessons(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<BoardRow>, StoreError> {
        let sql = format!(
            "SELECT {BOARD_FIELDS} FROM lesson
             WHERE starts_at >= <datetime>$earliest AND starts_at < <datetime>$to
                 AND ends_at > <datetime>$from
             ORDER BY start, id"
        );
        let vars = json!({
            "earliest": ts(from - Duration::hours(LONGEST_LESSON_HOURS)),
            "from": ts(from), "to": ts(to), "alerting": alerting(), "now": ts(now),
        });
        self.rows(&sql, vars, 0).await
    }

    /// One lesson as the board reads it; `NotFound` when there is none.
    pub async fn board_lesson(&self, id: &str, now: DateTime<Utc>) -> Result<BoardRow, StoreError> {
        let sql = format!("SELECT {BOARD_FIELDS} FROM type::record('lesson', $id)");
        let vars = json!({ "id": id, "alerting": alerting(), "now": ts(now) });
        self.row(&sql, vars, 0).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseConfig;
    use crate::live::Transition;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    async fn store() -> Store {
        let cfg = DatabaseConfig {
            url: "mem://".into(),
            ..DatabaseConfig::default()
        };
        let store = Store::open(&cfg).await.unwrap();
        store
            .value(
                "CREATE user:t1 SET name = 'Tess', email = 't1@example.org', role = 'tutor',
                     password_hash = '$argon2id$x', timezone = 'Europe/London',
                     created_at = time::now();
                 CREATE student:s1 SET name = 'Ann', level = 'GCSE', family = family:f1,
                     created_at = time::now();",
                json!({}),
                0,
            )
            .await
            .unwrap();
        for (id, start) in [
            ("early", "2027-03-10T11:00:00Z"),
            ("ended", "2027-03-10T12:30:00Z"),
            ("soon", "2027-03-10T16:00:00Z"),
            ("late", "2027-03-11T05:00:00Z"),
        ] {
            store
                .value(
                    "CREATE type::record('lesson', $id) CONTENT {
                        tutor: user:t1, students: [student:s1], families: [family:f1],
                        kind: 'one_to_one', subject: subject:maths_gcse,
                        starts_at: <datetime>$start, ends_at: <datetime>$start + 1h,
                        timezone: 'Europe/London', local_start: '2027-03-10T16:00:00',
                        duration_min: 60, price_pence: 4000, status: 'booked',
                        booked_by: user:p1, version: 1,
                        created_at: time::now(), updated_at: time::now()
                     };",
                    json!({ "id": id, "start": start }),
                    0,
                )
                .await
                .unwrap();
        }
        store
    }

    /// The window holds lessons overlapping it, and a lesson's alert
    /// events come with it.
    #[tokio::test]
    async fn the_window_and_the_alert_events() {
        let store = store().await;
        let now = at("2027-03-10T16:10:00Z");
        let rows = store
            .board_lessons(now - Duration::hours(3), now + Duration::hours(12), now)
            .await
            .unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["ended", "soon"],
            "12:00 ended before 13:10; 05:00 is past 04:10"
        );
        assert_eq!(rows[1].tutor.name, "Tess");
        assert_eq!(rows[1].students[0].name, "Ann");
        assert!(rows[1].alert_events.is_empty());

        let open = Transition::new("soon", 1, LessonStatus::Open, LessonEventKind::Opened, None);
        store.transition(&open, now).await.unwrap();
        let late = Transition::new("soon", 2, LessonStatus::Open, LessonEventKind::Late, None);
        store.transition(&late, now).await.unwrap();
        let row = store.board_lesson("soon", now).await.unwrap();
        assert_eq!(row.status, LessonStatus::Open);
        assert_eq!(row.version, 3);
        assert_eq!(
            row.alert_events,
            [AlertEvent {
                kind: LessonEventKind::Late,
                at: now
            }],
            "opening raises nothing"
        );
        assert!(matches!(
            store.board_lesson("nope", now).await,
            Err(StoreError::NotFound)
        ));
    }
}
