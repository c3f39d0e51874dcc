//! A tutor's own profile and availability: `GET/PUT /api/v1/tutor/profile`,
//! `PUT /api/v1/tutor/availability`.

use actix_web::{HttpResponse, web};
use actix_web::{get, put};
use serde::Deserialize;

use crate::routes::error::ApiError;
use crate::routes::extract::TutorUser;
use crate::state::AppState;
use cms_domain::scheduling::availability::{Override, OverrideKind, Window, check_range};
use cms_domain::scheduling::time;
use cms_store::StoreError;
use cms_store::tutors::ProfileUpdate;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectRate {
    #[schema(min_length = 1, pattern = r"\S")]
    pub subject: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub level: String,
    /// Per hour, one-to-one, in pence.
    #[schema(minimum = 1, maximum = 100000)]
    #[serde(deserialize_with = "cms_domain::whole_number::int")]
    pub rate_pence: i64,
    /// Per student per hour in a group lesson; defaults to the rate.
    #[serde(default, deserialize_with = "cms_domain::whole_number::option")]
    #[schema(minimum = 1, maximum = 100000)]
    pub group_rate_pence: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    pub bio: String,
    /// IANA zone the availability is written in.
    #[schema(schema_with = cms_domain::openapi::zone_schema)]
    pub timezone: String,
    /// Minutes kept free after each lesson (multiple of 15, up to 120).
    #[serde(default, deserialize_with = "cms_domain::whole_number::int")]
    pub buffer_min: u32,
    pub subjects: Vec<SubjectRate>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityRequest {
    pub weekly: Vec<Window>,
    #[serde(default)]
    pub overrides: Vec<Override>,
}

#[utoipa::path(responses((status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody), (status = 200, body = cms_store::TutorProfile)), security(("bearer" = [])))]
#[get("/tutor/profile")]
pub async fn get_profile(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
) -> Result<HttpResponse, ApiError> {
    match state.store.tutor_profile(&user.user_id).await {
        Err(StoreError::NotFound) => Err(ApiError::NotFound("no profile yet: PUT one".into())),
        other => Ok(HttpResponse::Ok().json(other?)),
    }
}

#[utoipa::path(request_body = ProfileRequest,
    responses((status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody), (status = 200, body = cms_store::TutorProfile), (status = 422, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[put("/tutor/profile")]
pub async fn put_profile(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
    body: web::Json<ProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    time::zone(&body.timezone).map_err(|e| ApiError::Invalid(e.to_string()))?;
    if body.bio.chars().count() > 4000 {
        return Err(ApiError::Invalid("bio is at most 4000 characters".into()));
    }
    if body.buffer_min > 120 || !body.buffer_min.is_multiple_of(15) {
        return Err(ApiError::Invalid(
            "buffer_min is a multiple of 15 up to 120".into(),
        ));
    }
    let mut subjects = Vec::new();
    for s in &body.subjects {
        let subject = match state.store.find_subject(&s.subject, &s.level).await {
            Err(StoreError::NotFound) => {
                return Err(ApiError::Invalid(format!(
                    "{} {} is not in the subject catalogue",
                    s.level, s.subject
                )));
            }
            other => other?,
        };
        let group = s.group_rate_pence.unwrap_or(s.rate_pence);
        if !(1..=100_000).contains(&s.rate_pence) || !(1..=100_000).contains(&group) {
            return Err(ApiError::Invalid(
                "rates are 1 to 100,000 pence an hour".into(),
            ));
        }
        if subjects.iter().any(|(id, _, _)| id == &subject.id) {
            return Err(ApiError::Invalid(format!(
                "{} {} is listed twice",
                s.level, s.subject
            )));
        }
        subjects.push((subject.id, s.rate_pence, group));
    }
    let update = ProfileUpdate {
        bio: &body.bio,
        timezone: &body.timezone,
        buffer_min: body.buffer_min,
        subjects,
        require_dbs: state.documents.config.require_dbs,
    };
    let profile = state
        .store
        .put_tutor_profile(&user.user_id, update, state.clock.now())
        .await?;
    Ok(HttpResponse::Ok().json(profile))
}

#[utoipa::path(request_body = AvailabilityRequest,
    responses((status = 403, description = "the caller is not a tutor", body = crate::routes::ErrorBody), (status = 200, body = cms_store::TutorProfile), (status = 422, body = crate::routes::ErrorBody)), security(("bearer" = [])))]
#[put("/tutor/availability")]
pub async fn put_availability(
    state: web::Data<AppState>,
    TutorUser(user): TutorUser,
    body: web::Json<AvailabilityRequest>,
) -> Result<HttpResponse, ApiError> {
    for w in &body.weekly {
        if !(1..=7).contains(&w.day) {
            return Err(ApiError::Invalid("day is 1 (Monday) to 7 (Sunday)".into()));
        }
        check_range(w.start, w.end).map_err(ApiError::Invalid)?;
    }
    for o in &body.overrides {
        time::parse_date(&o.date).map_err(|e| ApiError::Invalid(e.to_string()))?;
        match (o.kind, o.start, o.end) {
            (OverrideKind::Off, None, None) => {}
            (OverrideKind::Off, _, _) => {
                return Err(ApiError::Invalid("a day off has no start or end".into()));
            }
            (OverrideKind::Extra, Some(s), Some(e)) => {
                check_range(s, e).map_err(ApiError::Invalid)?
            }
            (OverrideKind::Extra, _, _) => {
                return Err(ApiError::Invalid(
                    "an extra window needs start and end".into(),
                ));
            }
        }
    }
    match state
        .store
        .put_availability(
            &user.user_id,
            &body.weekly,
            &body.overrides,
            state.clock.now(),
        )
        .await
    {
        Err(StoreError::NotFound) => Err(ApiError::NotFound("create your profile first".into())),
        other => Ok(HttpResponse::Ok().json(other?)),
    }
}
