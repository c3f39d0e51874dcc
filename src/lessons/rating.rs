//! Rating a completed lesson (docs/ratings.md): a parent of a family with a
//! child in it gives 1–5 stars and an optional comment, once for their
//! family. The rating and the tutor's totals are one store transaction; a
//! rating of two stars or fewer is pushed to the admins' board as a
//! `board:alert` (`low_rating`) and stays on their list of low ratings.

use cms_actors::messages::Push;
use cms_domain::lesson::LessonStatus;
use cms_domain::rating::{self, Stars};
use cms_domain::{Caller, Role};
use cms_protocol::board::{AlertKind, BoardAlert};
use cms_protocol::{Topic, event};
use cms_store::StoreError;
use cms_store::ratings::{NewRating, Rating};
use serde::Deserialize;

use super::error::LessonError;
use super::{Lessons, may_see, not_found};
use crate::notify::text::one_line;

/// Longest alert message, in characters.
const MAX_ALERT: usize = 300;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    /// 1 to 5.
    #[schema(value_type = u8, minimum = 1, maximum = 5)]
    pub stars: Stars,
    /// Up to 1000 characters; blank is none.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub comment: Option<String>,
}

/// The parent's family, or why they cannot rate.
fn family_of(user: &Caller) -> Result<&str, LessonError> {
    if user.role != Role::Parent {
        return Err(LessonError::Forbidden(
            "only a parent of the lesson's students rates it".into(),
        ));
    }
    user.family_id
        .as_deref()
        .ok_or_else(|| LessonError::Forbidden("this parent has no family".into()))
}

/// Rates the lesson for the caller's family: 201 with the rating; 409 when
/// it is not completed or the family has rated it already.
pub async fn rate(
    deps: &Lessons,
    user: &Caller,
    lesson_id: &str,
    req: &RateRequest,
) -> Result<Rating, LessonError> {
    let family = family_of(user)?;
    let comment =
        rating::comment(req.comment.as_deref()).map_err(|e| LessonError::Invalid(e.to_string()))?;
    let l = match deps.store.lesson_state(lesson_id).await {
        Err(StoreError::NotFound) => return Err(not_found()),
        other => other?,
    };
    if !may_see(user, &l) {
        return Err(not_found());
    }
    if l.status != LessonStatus::Completed {
        return Err(LessonError::Conflict(format!(
            "only a completed lesson can be rated; this one is {}",
            l.status
        )));
    }
    let new = NewRating {
        lesson: l.id.clone(),
        family: family.to_owned(),
        tutor: l.tutor_id.clone(),
        by: user.user_id.clone(),
        stars: req.stars.get(),
        comment,
    };
    let now = deps.clock.now();
    let rated = match deps.store.rate_lesson(&new, now).await {
        Err(StoreError::Duplicate(_)) => {
            return Err(LessonError::Conflict(
                "your family has already rated this lesson".into(),
            ));
        }
        other => other?,
    };
    if req.stars.is_low() {
        alert_admins(deps, &rated);
    }
    Ok(rated)
}

/// The caller's family's rating of the lesson; 404 when there is none.
pub async fn mine(deps: &Lessons, user: &Caller, lesson_id: &str) -> Result<Rating, LessonError> {
    let family = family_of(user)?;
    deps.store
        .lesson_rating(lesson_id, family)
        .await?
        .ok_or_else(|| LessonError::NotFound("your family has not rated this lesson".into()))
}

fn alert_admins(deps: &Lessons, r: &Rating) {
    let comment = r
        .comment
        .as_deref()
        .map(|c| format!(": \u{201c}{c}\u{201d}"))
        .unwrap_or_default();
    let message = format!(
        "{} rated {} {} with {} {} star{}{}",
        r.by_name,
        r.level,
        r.subject,
        r.tutor_name,
        r.stars,
        if r.stars == 1 { "" } else { "s" },
        comment
    );
    let payload = BoardAlert {
        kind: AlertKind::LowRating,
        lesson_id: r.lesson_id.clone(),
        message: one_line(&message, MAX_ALERT),
        at: r.at,
    };
    deps.broker
        .publish(Push::new(Topic::AdminMonitor, event::BOARD_ALERT, &payload));
}
