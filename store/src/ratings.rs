//! Ratings of completed lessons (docs/ratings.md): one per lesson and
//! family, kept under the key `rating:[lesson, family]` so a second one is
//! refused by the store whatever raced it, and the tutor's running totals
//! raised in the same transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, ts};

/// A rating to keep. The use case has checked the lesson is completed and
/// the family is in it.
#[derive(Debug, Clone, Serialize)]
pub struct NewRating {
    pub lesson: String,
    pub family: String,
    pub tutor: String,
    pub by: String,
    pub stars: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One rating as it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rating {
    pub lesson_id: String,
    pub tutor_id: String,
    pub tutor_name: String,
    /// The parent who rated.
    pub by: String,
    pub by_name: String,
    pub subject: String,
    pub level: String,
    pub lesson_start: DateTime<Utc>,
    pub stars: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

const RATING_FIELDS: &str = "record::id(lesson) AS lesson_id, record::id(tutor) AS tutor_id, \
     tutor.name AS tutor_name, record::id(by) AS by, by.name AS by_name, \
     lesson.subject.name AS subject, lesson.subject.level AS level, \
     lesson.starts_at AS lesson_start, stars, comment, at";

impl Store {
    /// Keeps a rating and adds it to the tutor's totals, together.
    /// `Duplicate` when the family has already rated the lesson.
    pub async fn rate_lesson(
        &self,
        r: &NewRating,
        now: DateTime<Utc>,
    ) -> Result<Rating, StoreError> {
        let sql = format!(
            "BEGIN TRANSACTION;
             CREATE type::record('rating', [$r.lesson, $r.family]) CONTENT {{
                 lesson: type::record('lesson', $r.lesson), family: type::record('family', $r.family),
                 tutor: type::record('user', $r.tutor), by: type::record('user', $r.by),
                 stars: $r.stars, comment: $r.comment, at: <datetime>$now
             }} RETURN NONE;
             UPDATE type::record('tutor_profile', $r.tutor)
                 SET rating_count = (rating_count ?? 0) + 1, rating_sum = (rating_sum ?? 0) + $r.stars
                 RETURN NONE;
             SELECT {RATING_FIELDS} FROM ONLY type::record('rating', [$r.lesson, $r.family]);
             COMMIT TRANSACTION;"
        );
        self.row(&sql, json!({ "r": r, "now": ts(now) }), 3).await
    }

    /// The family's rating of a lesson, if they have given one.
    pub async fn lesson_rating(
        &self,
        lesson: &str,
        family: &str,
    ) -> Result<Option<Rating>, StoreError> {
        let sql = format!("SELECT {RATING_FIELDS} FROM type::record('rating', [$lesson, $family])");
        match self
            .row(&sql, json!({ "lesson": lesson, "family": family }), 0)
            .await
        {
            Err(StoreError::NotFound) => Ok(None),
            other => other.map(Some),
        }
    }

    /// A tutor's ratings, newest first.
    pub async fn tutor_ratings(&self, tutor: &str, limit: u32) -> Result<Vec<Rating>, StoreError> {
        let sql = format!(
            "SELECT {RATING_FIELDS} FROM rating WHERE tutor = type::record('user', $tutor)
             ORDER BY at DESC LIMIT $limit"
        );
        self.rows(&sql, json!({ "tutor": tutor, "limit": limit }), 0)
            .await
    }

    /// Ratings of `max_stars` or fewer, newest first: the admins' list.
    pub async fn low_ratings(&self, max_stars: u8, limit: u32) -> Result<Vec<Rating>, StoreError> {
        let sql = format!(
            "SELECT {RATING_FIELDS} FROM rating WHERE stars <= $max ORDER BY at DESC LIMIT $limit"
        );
        self.rows(&sql, json!({ "max": max_stars, "limit": limit }), 0)
            .await
    }
}
