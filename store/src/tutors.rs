//! Tutor profiles: bio, zone, status, the subject-levels taught with their
//! rates, weekly availability and date overrides.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, ts};
use cms_domain::rating::RatingSummary;
use cms_domain::scheduling::availability::{Availability, Held, Override, Window};
use cms_domain::tutor::TutorStatus;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Teaching {
    pub subject_id: String,
    pub subject: String,
    pub level: String,
    /// Per hour, one-to-one.
    pub rate_pence: i64,
    /// Per student per hour, in a group lesson.
    pub group_rate_pence: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TutorProfile {
    /// The tutor's user id.
    pub id: String,
    pub name: String,
    pub bio: String,
    pub timezone: String,
    /// pending, approved, rejected or suspended.
    pub status: TutorStatus,
    #[serde(default)]
    pub status_note: Option<String>,
    /// Minutes kept free after each lesson.
    pub buffer_min: u32,
    pub subjects: Vec<Teaching>,
    pub weekly: Vec<Window>,
    pub overrides: Vec<Override>,
    /// Parents' ratings of the tutor's completed lessons.
    #[serde(default)]
    pub rating: RatingSummary,
}

impl TutorProfile {
    pub fn availability(&self) -> Result<Availability, cms_domain::scheduling::time::TimeError> {
        Ok(Availability {
            tz: cms_domain::scheduling::time::zone(&self.timezone)?,
            weekly: self.weekly.clone(),
            overrides: self.overrides.clone(),
        })
    }

    pub fn teaching(&self, subject_id: &str) -> Option<&Teaching> {
        self.subjects.iter().find(|t| t.subject_id == subject_id)
    }
}

/// What a tutor sets about themselves.
pub struct ProfileUpdate<'a> {
    pub bio: &'a str,
    pub timezone: &'a str,
    pub buffer_min: u32,
    /// (subject id, rate, group rate).
    pub subjects: Vec<(String, i64, i64)>,
    /// Whether a new profile needs a valid DBS to be booked
    /// (`documents.require_dbs`); an existing profile keeps its own.
    pub require_dbs: bool,
}

const PROFILE_FIELDS: &str = "record::id(id) AS id, user.name AS name, bio, timezone, status, \
     status_note, buffer_min, weekly, overrides, \
     { count: rating_count ?? 0, sum: rating_sum ?? 0 } AS rating, \
     { LET $tutor = $parent.user; \
       SELECT record::id(subject) AS subject_id, subject.name AS subject, \
         subject.level AS level, rate_pence, group_rate_pence FROM teaches WHERE tutor = $tutor \
         ORDER BY subject_id } AS subjects";

#[derive(Deserialize)]
struct HeldRow {
    tutor: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    buffer_min: i64,
}

impl Store {
    pub async fn tutor_profile(&self, tutor_id: &str) -> Result<TutorProfile, StoreError> {
        let sql = format!("SELECT {PROFILE_FIELDS} FROM type::record('tutor_profile', $id)");
        self.row(&sql, json!({ "id": tutor_id }), 0).await
    }

    /// Creates or updates the caller's profile. A new profile is pending;
    /// an update keeps the status an admin set.
    pub async fn put_tutor_profile(
        &self,
        tutor_id: &str,
        p: ProfileUpdate<'_>,
        now: DateTime<Utc>,
    ) -> Result<TutorProfile, StoreError> {
        let subjects: Vec<_> = p
            .subjects
            .iter()
            .map(|(s, r, g)| json!({ "subject": s, "rate": r, "group_rate": g }))
            .collect();
        let sql = "BEGIN TRANSACTION;
             LET $u = type::record('user', $id);
             UPSERT type::record('tutor_profile', $id) SET
                 user = $u, bio = $bio, timezone = $tz, buffer_min = $buffer,
                 status = IF status = NONE THEN 'pending' ELSE status END,
                 weekly = IF weekly = NONE THEN [] ELSE weekly END,
                 overrides = IF overrides = NONE THEN [] ELSE overrides END,
                 dbs_required = IF created_at = NONE THEN $require_dbs ELSE dbs_required END,
                 created_at = IF created_at = NONE THEN <datetime>$now ELSE created_at END,
                 updated_at = <datetime>$now
               RETURN NONE;
             DELETE teaches WHERE tutor = $u;
             FOR $s IN $subjects {
                 CREATE type::record('teaches', [$id, $s.subject]) SET tutor = $u,
                     subject = type::record('subject', $s.subject),
                     rate_pence = $s.rate, group_rate_pence = $s.group_rate RETURN NONE;
             };
             COMMIT TRANSACTION;";
        let vars = json!({
            "id": tutor_id, "bio": p.bio, "tz": p.timezone, "buffer": p.buffer_min,
            "subjects": subjects, "require_dbs": p.require_dbs, "now": ts(now),
        });
        self.value(sql, vars, 0).await?;
        self.tutor_profile(tutor_id).await
    }

    /// Replaces the weekly windows and date overrides.
    pub async fn put_availability(
        &self,
        tutor_id: &str,
        weekly: &[Window],
        overrides: &[Override],
        now: DateTime<Utc>,
    ) -> Result<TutorProfile, StoreError> {
        let sql = "UPDATE type::record('tutor_profile', $id)
                   SET weekly = $weekly, overrides = $overrides, updated_at = <datetime>$now
                   RETURN VALUE record::id(id)";
        let vars =
            json!({ "id": tutor_id, "weekly": weekly, "overrides": overrides, "now": ts(now) });
        let ids: Vec<String> = self.rows(sql, vars, 0).await?;
        if ids.is_empty() {
            return Err(StoreError::NotFound);
        }
        self.tutor_profile(tutor_id).await
    }

    pub async fn set_tutor_status(
        &self,
        tutor_id: &str,
        status: TutorStatus,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<TutorProfile, StoreError> {
        let sql = "UPDATE type::record('tutor_profile', $id)
                   SET status = $status, status_note = $note, updated_at = <datetime>$now
                   RETURN VALUE record::id(id)";
        let vars = json!({ "id": tutor_id, "status": status, "note": note, "now": ts(now) });
        let ids: Vec<String> = self.rows(sql, vars, 0).await?;
        if ids.is_empty() {
            return Err(StoreError::NotFound);
        }
        self.tutor_profile(tutor_id).await
    }

    /// Profiles with a status (admins' review queue), or all.
    pub async fn tutor_profiles(
        &self,
        status: Option<TutorStatus>,
    ) -> Result<Vec<TutorProfile>, StoreError> {
        let sql = format!(
            "SELECT {PROFILE_FIELDS} FROM tutor_profile
             WHERE $status = NONE OR status = $status ORDER BY created_at"
        );
        self.rows(&sql, json!({ "status": status }), 0).await
    }

    /// Approved tutors teaching a subject.
    pub async fn approved_tutors_teaching(
        &self,
        subject_id: &str,
    ) -> Result<Vec<TutorProfile>, StoreError> {
        let sql = format!(
            "LET $ids = (SELECT VALUE record::id(tutor) FROM teaches
                         WHERE subject = type::record('subject', $subject));
             SELECT {PROFILE_FIELDS} FROM tutor_profile
             WHERE status = 'approved' AND record::id(id) IN $ids ORDER BY name"
        );
        self.rows(&sql, json!({ "subject": subject_id }), 1).await
    }

    /// When each of these tutors is held by lessons holding time (booked,
    /// open or live; the buffer after each) around `[from, to)`.
    pub async fn tutors_held(
        &self,
        tutor_ids: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, Held)>, StoreError> {
        let sql = "SELECT record::id(tutor) AS tutor, starts_at, ends_at, buffer_min FROM lesson
                   WHERE tutor IN array::map($tutors, |$t| type::record('user', $t))
                     AND status IN $holding
                     AND starts_at < <datetime>$to AND ends_at > <datetime>$from - 4h";
        let vars = json!({
            "tutors": tutor_ids, "from": ts(from), "to": ts(to),
            "holding": super::lessons::statuses(cms_domain::lesson::LessonStatus::holds_time),
        });
        let rows: Vec<HeldRow> = self.rows(sql, vars, 0).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let end = r.ends_at + chrono::Duration::minutes(r.buffer_min);
                (
                    r.tutor,
                    Held {
                        start: r.starts_at,
                        end,
                    },
                )
            })
            .collect())
    }
}
