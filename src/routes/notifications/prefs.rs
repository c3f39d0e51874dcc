//! `GET/PUT /api/v1/me/notifications`: email and SMS on or off per kind.

use actix_web::{HttpResponse, web};
use actix_web::{get, put};

use crate::notify::prefs::Prefs;
use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[utoipa::path(
    responses((status = 200, body = Prefs)), security(("bearer" = [])))]
#[get("/me/notifications")]
pub async fn get_prefs(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let stored = state.store.notify_prefs(&user.user_id).await?;
    Ok(HttpResponse::Ok().json(Prefs::from_stored(stored.as_ref())))
}

/// The whole set is replaced: every channel and kind must be given.
#[utoipa::path(request_body = Prefs,
    responses((status = 200, body = Prefs), (status = 422, body = crate::routes::ErrorBody)),
    security(("bearer" = [])))]
#[put("/me/notifications")]
pub async fn put_prefs(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<Prefs>,
) -> Result<HttpResponse, ApiError> {
    let prefs = body.into_inner();
    let value = serde_json::to_value(prefs).map_err(ApiError::internal)?;
    state.store.set_notify_prefs(&user.user_id, &value).await?;
    Ok(HttpResponse::Ok().json(prefs))
}
