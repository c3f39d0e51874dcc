//! Lesson occurrences: booking, cancelling, moving and changing seats, each
//! in one transaction. The transaction creates a `busy` record for every
//! 15-minute cell the tutor and each student are held; a cell already held
//! makes the whole transaction fail, so no two lessons ever overlap for a
//! tutor or a student, whichever process or node wrote them. Changes to an
//! existing lesson carry the `version` they were planned against and are
//! refused if it moved on.

use chrono::{DateTime, Utc};
use cms_domain::Role;
use cms_domain::lesson::{CellOwner, LessonKind, LessonStatus};
use cms_protocol::calendar::Occurrence;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::charges::{CREATE_CHARGES, NewCharge};
use super::ledger::{KeyedEntry, POST_ENTRIES};
use super::notify::NewJob;
use super::packages::{SPEND_UNITS, UnitUse, return_units};
use super::{Store, StoreError, ts};

/// What calendars show; see `cms_protocol::calendar::Occurrence`. The
/// cancellations are read through a LET (see lib.rs, "correlated
/// subqueries").
pub(super) const OCCURRENCE_FIELDS: &str = "record::id(id) AS id, \
     IF series THEN record::id(series) ELSE NONE END AS series_id, status, kind, \
     { id: record::id(tutor), name: tutor.name } AS tutor, \
     (SELECT record::id(id) AS id, name, record::id(family) AS family_id FROM $parent.students) AS students, \
     subject.name AS subject, subject.level AS level, \
     starts_at AS start, ends_at AS `end`, timezone, local_start, duration_min, price_pence, \
     IF template THEN record::id(template) ELSE NONE END AS template_id, \
     array::map(credits, |$c| record::id($c)) AS credit_ids, \
     IF rescheduled_from THEN record::id(rescheduled_from) ELSE NONE END AS rescheduled_from, \
     IF rescheduled_to THEN record::id(rescheduled_to) ELSE NONE END AS rescheduled_to, \
     { LET $lesson = $parent.id; \
       SELECT array::map(students, |$s| record::id($s)) AS student_ids, role AS by_role, \
         reason, at, notice_secs, chargeable FROM cancellation \
         WHERE lesson = $lesson ORDER BY at } AS cancellations, \
     version, started_at, ended_at, \
     array::map(attendance ?? [], |$a| { student_id: record::id($a.student), \
        status: $a.status, chargeable: $a.chargeable }) AS attendance";

const STATE_FIELDS: &str = "record::id(id) AS id, record::id(tutor) AS tutor_id, \
     (SELECT record::id(id) AS id, record::id(family) AS family_id FROM $parent.students) AS seats, \
     status, kind, starts_at, ends_at, buffer_min, duration_min, timezone, local_start, \
     price_pence, version, record::id(subject) AS subject_id, \
     IF series THEN record::id(series) ELSE NONE END AS series_id, \
     IF template THEN record::id(template) ELSE NONE END AS template_id, \
     array::map(credits, |$c| record::id($c)) AS credit_ids, \
     array::map(credits, |$c| record::id($c.student)) AS credit_student_ids, \
     { LET $lesson = $parent.id; \
       SELECT record::id(id) AS id, record::id(student) AS student_id, \
         record::id(family) AS family_id, value_pence AS value \
       FROM package_unit WHERE used_for = $lesson ORDER BY id } AS package_units";

#[derive(Debug, Clone, Deserialize)]
pub struct Seat {
    pub id: String,
    pub family_id: String,
}

/// A lesson as the scheduling code plans against it.
#[derive(Debug, Clone, Deserialize)]
pub struct LessonState {
    pub id: String,
    pub tutor_id: String,
    pub seats: Vec<Seat>,
    pub status: LessonStatus,
    pub kind: LessonKind,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub buffer_min: i64,
    pub duration_min: u32,
    pub timezone: String,
    pub local_start: String,
    pub price_pence: i64,
    pub version: u32,
    pub subject_id: String,
    #[serde(default)]
    pub series_id: Option<String>,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub credit_ids: Vec<String>,
    /// The students whose seats were paid with those credits.
    #[serde(default)]
    pub credit_student_ids: Vec<String>,
    /// The package lessons paying for seats, one per seat.
    #[serde(default)]
    pub package_units: Vec<UnitUse>,
}

impl LessonState {
    pub fn student_ids(&self) -> Vec<String> {
        self.seats.iter().map(|s| s.id.clone()).collect()
    }

    /// The students whose seats are paid otherwise than by card: with a
    /// makeup credit or a package lesson.
    pub fn prepaid_student_ids(&self) -> Vec<String> {
        let mut ids = self.credit_student_ids.clone();
        ids.extend(self.package_units.iter().map(|u| u.student_id.clone()));
        ids
    }

    /// The package lessons paying for these students' seats.
    pub fn units_of(&self, students: &[String]) -> Vec<String> {
        self.package_units
            .iter()
            .filter(|u| students.contains(&u.student_id))
            .map(|u| u.id.clone())
            .collect()
    }

    pub fn family_ids(&self) -> Vec<String> {
        let mut f: Vec<String> = self.seats.iter().map(|s| s.family_id.clone()).collect();
        f.sort();
        f.dedup();
        f
    }
}

/// A held cell: `[owner, cell]`, the owner stored as `t:<tutor>` or
/// `s:<student>`.
pub type Cell = (CellOwner, i64);

#[derive(Debug, Clone, Serialize)]
pub struct NewOccurrence {
    pub id: String,
    pub starts_at: String,
    pub ends_at: String,
    pub local_start: String,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewSeries {
    pub id: String,
    pub freq: String,
    pub local_start: String,
}

/// Lessons to create, all sharing these fields.
#[derive(Debug, Clone, Serialize)]
pub struct NewLessons {
    pub tutor: String,
    pub students: Vec<String>,
    pub families: Vec<String>,
    pub kind: LessonKind,
    pub subject: String,
    pub template: Option<String>,
    pub timezone: String,
    pub duration_min: u32,
    pub buffer_min: u32,
    pub price_pence: i64,
    pub booked_by: String,
    pub series: Option<NewSeries>,
    pub rescheduled_from: Option<String>,
    /// Credits that already paid for the lesson this one replaces.
    pub carry_credits: Vec<String>,
    /// Spend this many of the family's makeup credits (oldest expiry first).
    pub credit_family: Option<String>,
    /// Package lessons that already paid for the lesson this one replaces.
    pub carry_units: Vec<String>,
    /// Spend one of this family's package lessons per student and lesson
    /// (`packages::SPEND_UNITS`).
    pub package_family: Option<String>,
    pub lessons: Vec<NewOccurrence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewCancellation {
    pub students: Vec<String>,
    pub by: String,
    pub role: Role,
    pub reason: String,
    pub notice_secs: i64,
    pub chargeable: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewCredit {
    pub family: String,
    pub student: String,
    pub reason: String,
    pub expires_at: String,
}

/// A change to an existing lesson, planned against `version`.
#[derive(Debug, Clone, Serialize)]
pub struct LessonChange {
    pub id: String,
    pub version: u32,
    pub status: LessonStatus,
    pub students: Vec<String>,
    pub families: Vec<String>,
    pub kind: LessonKind,
    pub rescheduled_to: Option<String>,
    /// Release every cell the lesson holds.
    pub free_all: bool,
    /// Release the cells of these owners only.
    pub free_owners: Vec<CellOwner>,
    pub add_cells: Vec<Cell>,
    pub cancellation: Option<NewCancellation>,
    pub credits: Vec<NewCredit>,
    /// Package lessons given back (seats leaving without a charge).
    pub return_units: Vec<String>,
}

impl LessonChange {
    /// The lesson as it is, to be edited.
    pub fn of(l: &LessonState) -> Self {
        Self {
            id: l.id.clone(),
            version: l.version,
            status: l.status,
            students: l.student_ids(),
            families: l.family_ids(),
            kind: l.kind,
            rescheduled_to: None,
            free_all: false,
            free_owners: Vec::new(),
            add_cells: Vec::new(),
            cancellation: None,
            credits: Vec::new(),
            return_units: Vec::new(),
        }
    }
}

const APPLY: &str = "BEGIN TRANSACTION;
FOR $c IN $changes {
    LET $l = type::record('lesson', $c.id);
    IF (SELECT VALUE version FROM ONLY $l) != $c.version {
        THROW 'stale: the lesson changed meanwhile';
    };
    UPDATE $l SET status = $c.status,
        students = array::map($c.students, |$s| type::record('student', $s)),
        families = array::map($c.families, |$f| type::record('family', $f)),
        kind = $c.kind,
        rescheduled_to = IF $c.rescheduled_to THEN type::record('lesson', $c.rescheduled_to) ELSE rescheduled_to END,
        version += 1, updated_at = <datetime>$now
        RETURN NONE;
    IF $c.status NOT IN $reminded {
        -- By the lesson's index alone (see live.rs, TRANSITION).
        LET $jobs = SELECT VALUE id FROM notify_job WHERE lesson = $l;
        UPDATE $jobs SET status = 'withdrawn', note = 'lesson ' + $c.status,
            done_at = <datetime>$now
            WHERE kind = 'reminder' AND status = 'pending' RETURN NONE;
    };
    IF $c.free_all {
        DELETE busy WHERE lesson = $l RETURN NONE;
    } ELSE IF array::len($c.free_owners) > 0 {
        DELETE busy WHERE lesson = $l AND record::id(id)[0] IN $c.free_owners RETURN NONE;
    };
    FOR $cell IN $c.add_cells {
        CREATE type::record('busy', $cell) SET lesson = $l RETURN NONE;
    };
    IF $c.cancellation {
        CREATE cancellation CONTENT {
            lesson: $l,
            students: array::map($c.cancellation.students, |$s| type::record('student', $s)),
            cancelled_by: type::record('user', $c.cancellation.by),
            role: $c.cancellation.role, reason: $c.cancellation.reason,
            notice_secs: $c.cancellation.notice_secs, chargeable: $c.cancellation.chargeable,
            at: <datetime>$now
        } RETURN NONE;
    };
    FOR $cr IN $c.credits {
        CREATE credit CONTENT {
            family: type::record('family', $cr.family), student: type::record('student', $cr.student),
            source: $l, reason: $cr.reason, created_at: <datetime>$now,
            expires_at: <datetime>$cr.expires_at
        } RETURN NONE;
    };
    {RETURN_UNITS}
};
IF $new {
    LET $tutor = type::record('user', $new.tutor);
    LET $profile = SELECT status, dbs_required FROM ONLY type::record('tutor_profile', $new.tutor);
    IF $profile.status != 'approved' {
        THROW 'tutor_not_booking: this tutor is not taking bookings';
    };
    -- A tutor who needs a DBS is bookable only while a verified one counts
    -- (docs/documents.md); otherwise the newest certificate says why not.
    IF $profile.dbs_required AND array::len(SELECT VALUE id FROM document
            WHERE tutor = $tutor AND kind = 'dbs' AND status = 'verified'
              AND lapses_at > <datetime>$now LIMIT 1) = 0 {
        LET $newest = (SELECT status FROM document WHERE tutor = $tutor AND kind = 'dbs'
            ORDER BY created_at DESC LIMIT 1)[0];
        IF $newest = NONE { THROW 'dbs_missing: no DBS certificate'; };
        IF $newest.status = 'pending' { THROW 'dbs_pending: the DBS certificate is being checked'; };
        IF $newest.status = 'rejected' { THROW 'dbs_rejected: the DBS certificate was rejected'; };
        THROW 'dbs_lapsed: the DBS check has lapsed';
    };
    IF $new.series {
        CREATE type::record('series', $new.series.id) CONTENT {
            tutor: $tutor, freq: $new.series.freq, timezone: $new.timezone,
            local_start: $new.series.local_start, booked_by: type::record('user', $new.booked_by),
            created_at: <datetime>$now
        } RETURN NONE;
    };
    LET $first = type::record('lesson', $new.lessons[0].id);
    LET $spent = IF $new.credit_family THEN
        (SELECT id, expires_at FROM credit
          WHERE family = type::record('family', $new.credit_family) AND used_at = NONE
            AND expires_at > <datetime>$now
          ORDER BY expires_at LIMIT $credit_count).id
        ELSE [] END;
    IF array::len($spent) < $credit_count {
        THROW 'no_credit: the family has no unused makeup credit for this booking';
    };
    LET $credits = array::concat(array::map($new.carry_credits, |$k| type::record('credit', $k)), $spent);
    UPDATE $credits SET used_at = <datetime>$now, used_for = $first RETURN NONE;
    FOR $o IN $new.lessons {
        LET $l = type::record('lesson', $o.id);
        {SPEND_UNITS}
        CREATE $l CONTENT {
            tutor: $tutor,
            students: array::map($new.students, |$s| type::record('student', $s)),
            families: array::map($new.families, |$f| type::record('family', $f)),
            kind: $new.kind, subject: type::record('subject', $new.subject),
            series: IF $new.series THEN type::record('series', $new.series.id) ELSE NONE END,
            template: IF $new.template THEN type::record('template', $new.template) ELSE NONE END,
            starts_at: <datetime>$o.starts_at, ends_at: <datetime>$o.ends_at,
            timezone: $new.timezone, local_start: $o.local_start,
            duration_min: $new.duration_min, buffer_min: $new.buffer_min,
            price_pence: $new.price_pence, status: 'booked',
            booked_by: type::record('user', $new.booked_by),
            credits: IF $l = $first THEN $credits ELSE [] END,
            rescheduled_from: IF $new.rescheduled_from THEN type::record('lesson', $new.rescheduled_from) ELSE NONE END,
            version: 1, created_at: <datetime>$now, updated_at: <datetime>$now
        } RETURN NONE;
        FOR $cell IN $o.cells {
            CREATE type::record('busy', $cell) SET lesson = $l RETURN NONE;
        };
    };
    UPDATE array::map($new.carry_units, |$u| type::record('package_unit', $u))
        SET used_for = $first RETURN NONE;
};
FOR $j IN $jobs {
    CREATE type::record('notify_job', $j.key) CONTENT {
        kind: $j.kind, lesson: type::record('lesson', $j.lesson),
        lessons: array::map($j.lessons, |$x| type::record('lesson', $x)),
        families: array::map($j.families, |$f| type::record('family', $f)),
        offset_min: $j.offset_min, due_at: <datetime>$j.due_at,
        scheduled_at: <datetime>$j.due_at, status: 'pending', created_at: <datetime>$now
    } RETURN NONE;
};
{CREATE_CHARGES}
{POST_ENTRIES}
COMMIT TRANSACTION;";

/// The spellings of the statuses `which` picks: the rules about statuses
/// live in the domain (`LessonStatus`), so queries take them as a bound
/// list rather than repeating them.
pub(crate) fn statuses(which: fn(LessonStatus) -> bool) -> Vec<&'static str> {
    LessonStatus::ALL
        .iter()
        .filter(|s| which(**s))
        .map(|s| s.as_str())
        .collect()
}

/// Who a calendar query is for.
pub enum CalendarScope<'a> {
    Family {
        family_id: &'a str,
        student_id: Option<&'a str>,
    },
    Tutor(&'a str),
    /// Admins: everything, optionally one tutor's or one family's.
    All {
        tutor_id: Option<&'a str>,
        family_id: Option<&'a str>,
    },
}

impl Store {
    /// Applies changes to existing lessons and creates new ones, all or
    /// nothing, with the reminder and notice jobs they cause: a lesson
    /// leaving `booked` withdraws its pending reminders in the same
    /// transaction. A held cell fails it with `Duplicate`; a stale plan
    /// with `Refused(Refusal::StaleVersion)`.
    #[allow(clippy::too_many_arguments)]
    pub async fn apply_lessons(
        &self,
        changes: &[LessonChange],
        new: Option<&NewLessons>,
        credit_count: usize,
        jobs: &[NewJob],
        money: (&[NewCharge], &[KeyedEntry]),
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            APPLY
                .replace("{SPEND_UNITS}", SPEND_UNITS)
                .replace("{RETURN_UNITS}", &return_units("$c.return_units"))
                .replace("{CREATE_CHARGES}", CREATE_CHARGES)
                .replace("{POST_ENTRIES}", POST_ENTRIES)
        });
        let (charges, entries) = money;
        let vars = json!({
            "changes": changes, "new": new, "credit_count": credit_count, "jobs": jobs,
            "charges": charges, "entries": entries,
            "now": ts(now), "reminded": statuses(LessonStatus::gets_reminders),
        });
        self.value(&SQL, vars, 0).await.map(|_| ())
    }

    pub async fn occurrences(&self, ids: &[String]) -> Result<Vec<Occurrence>, StoreError> {
        let sql = format!(
            "SELECT {OCCURRENCE_FIELDS} FROM array::filter(
                 array::map($ids, |$i| type::record('lesson', $i)), |$r| record::exists($r))
             ORDER BY start"
        );
        self.rows(&sql, json!({ "ids": ids }), 0).await
    }

    pub async fn occurrence(&self, id: &str) -> Result<Occurrence, StoreError> {
        self.occurrences(&[id.to_owned()])
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NotFound)
    }

    pub async fn lesson_state(&self, id: &str) -> Result<LessonState, StoreError> {
        let sql = format!("SELECT {STATE_FIELDS} FROM type::record('lesson', $id)");
        self.row(&sql, json!({ "id": id }), 0).await
    }

    /// Lessons of a series still open to changes (`LessonStatus::changeable`)
    /// starting at or after `from`.
    pub async fn series_from(
        &self,
        series_id: &str,
        from: DateTime<Utc>,
    ) -> Result<Vec<LessonState>, StoreError> {
        let sql = format!(
            "SELECT {STATE_FIELDS} FROM lesson
             WHERE series = type::record('series', $series) AND status IN $changeable
               AND starts_at >= <datetime>$from ORDER BY starts_at"
        );
        let vars = json!({
            "series": series_id, "from": ts(from),
            "changeable": statuses(LessonStatus::changeable),
        });
        self.rows(&sql, vars, 0).await
    }

    /// Lessons holding time (`LessonStatus::holds_time`) of the tutor or of
    /// any of the students that come near `[from, to)` (with room for
    /// buffers).
    pub async fn lessons_near(
        &self,
        tutor_id: &str,
        student_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LessonState>, StoreError> {
        let sql = format!(
            "LET $students = array::map($students_in, |$s| type::record('student', $s));
             SELECT {STATE_FIELDS} FROM lesson
             WHERE status IN $holding
               AND (tutor = type::record('user', $tutor) OR students CONTAINSANY $students)
               AND starts_at < <datetime>$to + 4h AND ends_at > <datetime>$from - 4h
             ORDER BY starts_at"
        );
        let vars = json!({
            "tutor": tutor_id, "students_in": student_ids, "from": ts(from), "to": ts(to),
            "holding": statuses(LessonStatus::holds_time),
        });
        self.rows(&sql, vars, 1).await
    }

    /// Lessons starting in `[from, to)` that the scope may see.
    pub async fn calendar(
        &self,
        scope: CalendarScope<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Occurrence>, StoreError> {
        let (filter, extra): (&str, Value) = match scope {
            CalendarScope::Family {
                family_id,
                student_id,
            } => (
                "type::record('family', $family) IN families
                 AND ($student = NONE OR type::record('student', $student) IN students)",
                json!({ "family": family_id, "student": student_id }),
            ),
            CalendarScope::Tutor(t) => (
                "tutor = type::record('user', $tutor)",
                json!({ "tutor": t }),
            ),
            CalendarScope::All {
                tutor_id,
                family_id,
            } => (
                "($tutor = NONE OR tutor = type::record('user', $tutor))
                 AND ($family = NONE OR type::record('family', $family) IN families)",
                json!({ "tutor": tutor_id, "family": family_id }),
            ),
        };
        let sql = format!(
            "SELECT {OCCURRENCE_FIELDS} FROM lesson
             WHERE starts_at >= <datetime>$from AND starts_at < <datetime>$to AND {filter}
             ORDER BY start"
        );
        let mut vars = json!({ "from": ts(from), "to": ts(to) });
        if let (Some(map), Value::Object(more)) = (vars.as_object_mut(), extra) {
            map.extend(more);
        }
        self.rows(&sql, vars, 0).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseConfig;

    fn lessons(id: &str, student: &str, cells: std::ops::Range<i64>) -> NewLessons {
        let mut held: Vec<Cell> = cells
            .clone()
            .map(|c| (CellOwner::Tutor("t1".into()), c))
            .collect();
        held.extend(cells.map(|c| (CellOwner::Student(student.into()), c)));
        NewLessons {
            tutor: "t1".into(),
            students: vec![student.into()],
            families: vec!["f1".into()],
            kind: LessonKind::OneToOne,
            subject: "maths_gcse".into(),
            template: None,
            timezone: "Europe/London".into(),
            duration_min: 60,
            buffer_min: 0,
            price_pence: 4000,
            booked_by: "p1".into(),
            series: None,
            rescheduled_from: None,
            carry_credits: Vec::new(),
            credit_family: None,
            carry_units: Vec::new(),
            package_family: None,
            lessons: vec![NewOccurrence {
                id: id.into(),
                starts_at: "2027-03-10T16:00:00Z".into(),
                ends_at: "2027-03-10T17:00:00Z".into(),
                local_start: "2027-03-10T16:00:00".into(),
                cells: held,
            }],
        }
    }

    /// The invariant does not depend on the checks the service makes
    /// first: writers that skip them still cannot both hold a cell.
    #[tokio::test]
    async fn only_one_of_many_concurrent_writers_holds_a_cell() {
        let cfg = DatabaseConfig {
            url: "mem://".into(),
            ..DatabaseConfig::default()
        };
        let store = Store::open(&cfg).await.unwrap();
        store
            .value(
                "CREATE tutor_profile:t1 SET user = user:t1, bio = '', timezone = 'Europe/London',
                     status = 'approved', created_at = time::now(), updated_at = time::now()",
                json!({}),
                0,
            )
            .await
            .unwrap();
        let now = Utc::now();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            // Overlapping by one cell at least: 64 + (i % 4) .. 68 + (i % 4).
            let new = lessons(
                &format!("l{i}"),
                &format!("s{i}"),
                64 + (i % 4)..68 + (i % 4),
            );
            tasks.push(tokio::spawn(async move {
                store
                    .apply_lessons(&[], Some(&new), 0, &[], (&[], &[]), now)
                    .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(StoreError::Duplicate(_)) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(ok, 1);
        let held: Vec<Value> = store
            .rows("SELECT VALUE lesson FROM busy", json!({}), 0)
            .await
            .unwrap();
        assert_eq!(held.len(), 8, "one lesson's cells, nothing of the losers");
    }
}
