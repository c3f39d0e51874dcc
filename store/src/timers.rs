//! What the lesson timers read: the lessons with a deadline passed, and
//! when the next deadline falls. The deadlines are not stored as jobs:
//! they follow from each lesson's status, start, end and `late_at`, so a
//! booking, a move or a start changes them in the transaction that changes
//! the lesson, and lessons booked before the timers existed need nothing
//! written for them. What the timers do is written by `live::Transition`,
//! one version-guarded transaction per step.

use chrono::{DateTime, Duration, Utc};
use cms_domain::lesson::LessonStatus;
use cms_domain::lifecycle::Timing;
use cms_domain::timers::Timed;
use serde::Deserialize;
use serde_json::json;

use super::lessons::Seat;
use super::{Store, StoreError, ts};

/// A lesson as the timers plan against it.
#[derive(Debug, Clone, Deserialize)]
pub struct TimedLesson {
    pub id: String,
    pub tutor_id: String,
    pub seats: Vec<Seat>,
    pub status: LessonStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub version: u32,
    /// `lesson:late` was already pushed.
    pub late_said: bool,
}

impl TimedLesson {
    pub fn timed(&self) -> Timed {
        Timed {
            status: self.status,
            start: self.starts_at,
            end: self.ends_at,
            late_said: self.late_said,
        }
    }
}

const TIMED_FIELDS: &str = "record::id(id) AS id, record::id(tutor) AS tutor_id, \
     (SELECT record::id(id) AS id, record::id(family) AS family_id FROM $parent.students) AS seats, \
     status, starts_at, ends_at, version, late_at != NONE AS late_said";

/// The earliest start or end per status, as `next_timer` reads them.
#[derive(Debug, Default, Deserialize)]
struct Earliest {
    #[serde(default)]
    booked: Option<DateTime<Utc>>,
    #[serde(default)]
    open_unsaid: Option<DateTime<Utc>>,
    #[serde(default)]
    open: Option<DateTime<Utc>>,
    #[serde(default)]
    live: Option<DateTime<Utc>>,
}

impl Store {
    /// Lessons with a timer step due at `now`, exactly those whose
    /// deadline (as `Timing::next_due` and `next_timer` compute it) has
    /// passed, at most `limit` per deadline. Each query stays on the
    /// `(status, starts_at)` or `(status, ends_at)` index; `untimed`
    /// lessons (still `booked` from before the timers) are left alone.
    pub async fn timer_candidates(
        &self,
        timing: &Timing,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<TimedLesson>, StoreError> {
        let sql = format!(
            "LET $a = SELECT {TIMED_FIELDS} FROM lesson
                 WHERE status = $booked AND starts_at <= <datetime>$open_by AND untimed != true
                 ORDER BY starts_at LIMIT $limit;
             LET $b = SELECT {TIMED_FIELDS} FROM lesson
                 WHERE status = $open AND starts_at <= <datetime>$late_by AND late_at = NONE
                 ORDER BY starts_at LIMIT $limit;
             LET $c = SELECT {TIMED_FIELDS} FROM lesson
                 WHERE status = $open AND starts_at <= <datetime>$no_show_by
                 ORDER BY starts_at LIMIT $limit;
             LET $d = SELECT {TIMED_FIELDS} FROM lesson
                 WHERE status = $live AND ends_at <= <datetime>$end_by
                 ORDER BY ends_at LIMIT $limit;
             RETURN array::concat($a, $b, $c, $d);"
        );
        let vars = json!({
            "booked": LessonStatus::Booked, "open": LessonStatus::Open, "live": LessonStatus::Live,
            "open_by": ts(now + timing.room_opens), "late_by": ts(now - timing.late_after),
            "no_show_by": ts(now - timing.no_show_after),
            "end_by": ts(now - timing.auto_end), "limit": limit,
        });
        let mut found: Vec<TimedLesson> = self.rows(&sql, vars, 4).await?;
        // An open lesson both late and past its no-show bound is in two lists.
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|a, b| a.id == b.id);
        Ok(found)
    }

    /// One lesson as the timers see it.
    pub async fn timed_lesson(&self, id: &str) -> Result<TimedLesson, StoreError> {
        let sql = format!("SELECT {TIMED_FIELDS} FROM type::record('lesson', $id)");
        self.row(&sql, json!({ "id": id }), 0).await
    }

    /// When the next timer step of any lesson falls due (possibly already
    /// passed); `None` when no lesson waits for one.
    pub async fn next_timer(&self, timing: &Timing) -> Result<Option<DateTime<Utc>>, StoreError> {
        let sql = "LET $a = (SELECT VALUE starts_at FROM lesson
                 WHERE status = $booked AND untimed != true ORDER BY starts_at LIMIT 1)[0];
             LET $b = (SELECT VALUE starts_at FROM lesson
                 WHERE status = $open AND late_at = NONE ORDER BY starts_at LIMIT 1)[0];
             LET $c = (SELECT VALUE starts_at FROM lesson
                 WHERE status = $open ORDER BY starts_at LIMIT 1)[0];
             LET $d = (SELECT VALUE ends_at FROM lesson
                 WHERE status = $live ORDER BY ends_at LIMIT 1)[0];
             RETURN { booked: $a, open_unsaid: $b, open: $c, live: $d };";
        let vars = json!({
            "booked": LessonStatus::Booked, "open": LessonStatus::Open, "live": LessonStatus::Live,
        });
        let e: Earliest = self.row(sql, vars, 4).await?;
        let after = |t: Option<DateTime<Utc>>, d: Duration| t.map(|t| t + d);
        Ok([
            after(e.booked, -timing.room_opens),
            after(e.open_unsaid, timing.late_after),
            after(e.open, timing.no_show_after),
            after(e.live, timing.auto_end),
        ]
        .into_iter()
        .flatten()
        .min())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseConfig;
    use crate::lessons::NewCredit;
    use crate::live::Transition;
    use crate::notify::NewJob;
    use cms_domain::Refusal;
    use cms_domain::lifecycle::LessonEventKind;
    use cms_domain::notify::JobKind;
    use cms_domain::timers::TimerStep;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    async fn store() -> Store {
        let cfg = DatabaseConfig {
            url: "mem://".into(),
            ..DatabaseConfig::default()
        };
        let store = Store::open(&cfg).await.unwrap();
        for (id, start, status) in [
            ("l1", "2027-03-10T16:00:00Z", "booked"),
            ("l2", "2027-03-10T18:00:00Z", "booked"),
        ] {
            store
                .value(
                    "CREATE type::record('lesson', $id) CONTENT {
                        tutor: user:t1, students: [student:s1, student:s2], families: [family:f1],
                        kind: 'group', subject: subject:maths_gcse,
                        starts_at: <datetime>$start, ends_at: <datetime>$start + 1h,
                        timezone: 'Europe/London', local_start: '2027-03-10T16:00:00',
                        duration_min: 60, price_pence: 4000, status: $status,
                        booked_by: user:p1, version: 1,
                        created_at: time::now(), updated_at: time::now()
                     };",
                    json!({ "id": id, "start": start, "status": status }),
                    0,
                )
                .await
                .unwrap();
        }
        store
            .value(
                "CREATE student:s1 SET name = 'A', level = 'GCSE', family = family:f1,
                     created_at = time::now();
                 CREATE student:s2 SET name = 'B', level = 'GCSE', family = family:f1,
                     created_at = time::now();",
                json!({}),
                0,
            )
            .await
            .unwrap();
        store
    }

    fn ids(found: &[TimedLesson]) -> Vec<&str> {
        found.iter().map(|l| l.id.as_str()).collect()
    }

    /// The candidates are exactly the lessons with a step due, and the next
    /// deadline is the earliest step of any lesson.
    #[tokio::test]
    async fn due_lessons_and_the_next_deadline_follow_the_status() {
        let store = store().await;
        let t = Timing::default();
        assert_eq!(
            store.next_timer(&t).await.unwrap(),
            Some(at("2027-03-10T15:50:00Z"))
        );
        let early = store
            .timer_candidates(&t, at("2027-03-10T15:49:59Z"), 10)
            .await
            .unwrap();
        assert!(early.is_empty());
        let now = at("2027-03-10T16:20:00Z");
        let due = store.timer_candidates(&t, now, 10).await.unwrap();
        assert_eq!(ids(&due), ["l1"]);
        assert_eq!(due[0].seats.len(), 2);
        assert_eq!(t.next_step(&due[0].timed(), now), Some(TimerStep::Open));

        // Opened, then late said: the next deadline is its no-show bound.
        let open = Transition::new("l1", 1, LessonStatus::Open, LessonEventKind::Opened, None);
        store.transition(&open, now).await.unwrap();
        assert_eq!(
            store.next_timer(&t).await.unwrap(),
            Some(at("2027-03-10T16:05:00Z"))
        );
        let mut late = Transition::new("l1", 2, LessonStatus::Open, LessonEventKind::Late, None);
        late.late = true;
        store.transition(&late, now).await.unwrap();
        assert!(store.timed_lesson("l1").await.unwrap().late_said);
        assert_eq!(
            store.next_timer(&t).await.unwrap(),
            Some(at("2027-03-10T16:15:00Z"))
        );
        // Said once: a second claim, even planned against the new version,
        // is refused and writes nothing.
        late.version = 3;
        assert!(matches!(
            store.transition(&late, now).await,
            Err(StoreError::Refused(Refusal::StaleVersion))
        ));
        let due = store.timer_candidates(&t, now, 10).await.unwrap();
        assert_eq!(ids(&due), ["l1"], "past its no-show bound, listed once");
        assert_eq!(t.next_step(&due[0].timed(), now), Some(TimerStep::NoShow));
    }

    #[tokio::test]
    async fn a_no_show_issues_its_credits_and_notice_with_the_status() {
        let store = store().await;
        let now = at("2027-03-10T16:15:00Z");
        let mut t = Transition::new(
            "l1",
            1,
            LessonStatus::TutorNoShow,
            LessonEventKind::NoShow,
            None,
        );
        t.needs_review = true;
        t.credits = ["s1", "s2"]
            .map(|s| NewCredit {
                family: "f1".into(),
                student: s.into(),
                reason: "tutor did not attend".into(),
                expires_at: ts(now + Duration::days(90)),
            })
            .to_vec();
        t.jobs = vec![NewJob {
            key: "l1.no_show.1".into(),
            kind: JobKind::NoShow,
            lesson: "l1".into(),
            lessons: vec!["l1".into()],
            families: vec!["f1".into()],
            offset_min: None,
            due_at: ts(now),
        }];
        store.transition(&t, now).await.unwrap();
        // A second node planned against the same version: nothing doubles.
        assert!(matches!(
            store.transition(&t, now).await,
            Err(StoreError::Refused(Refusal::StaleVersion))
        ));
        assert_eq!(store.credits("f1", now).await.unwrap().len(), 2);
        let jobs = store.lesson_jobs("l1").await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].kind, JobKind::NoShow);
        let row = store
            .value(
                "SELECT status, needs_review FROM ONLY lesson:l1",
                json!({}),
                0,
            )
            .await
            .unwrap();
        assert_eq!(
            row,
            json!({ "status": "tutor_no_show", "needs_review": true })
        );
        assert_eq!(
            store.next_timer(&Timing::default()).await.unwrap(),
            Some(at("2027-03-10T17:50:00Z")),
            "only the other lesson waits"
        );
    }

    /// Lessons still `booked` from before the timers are left alone.
    #[tokio::test]
    async fn untimed_lessons_are_left_alone() {
        let store = store().await;
        store
            .value("UPDATE lesson:l1 SET untimed = true", json!({}), 0)
            .await
            .unwrap();
        let t = Timing::default();
        let now = at("2027-03-10T16:20:00Z");
        assert!(
            store
                .timer_candidates(&t, now, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.next_timer(&t).await.unwrap(),
            Some(at("2027-03-10T17:50:00Z"))
        );
    }
}
