//! `GET /api/v1/credits`: the family's makeup credits (admins pass
//! `family_id`).

use actix_web::get;
use actix_web::{HttpResponse, web};
use cms_actors::Role;
use cms_domain::ids::FamilyId;
use serde::Deserialize;

use crate::routes::error::ApiError;
use crate::routes::extract::AuthUser;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CreditsQuery {
    pub family_id: Option<FamilyId>,
}

#[utoipa::path(params(CreditsQuery),
    responses((status = 403, description = "the caller's role may not do this", body = crate::routes::ErrorBody), (status = 200, body = Vec<cms_store::CreditRow>)), security(("bearer" = [])))]
#[get("/credits")]
pub async fn list_credits(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<CreditsQuery>,
) -> Result<HttpResponse, ApiError> {
    let family = match (user.role, &q.family_id) {
        (Role::Admin, Some(f)) => f.to_string(),
        (Role::Admin, None) => return Err(ApiError::Invalid("family_id is required".into())),
        (_, Some(_)) => {
            return Err(ApiError::Forbidden(
                "only admins look at other families".into(),
            ));
        }
        _ => user.parent_family()?.to_owned(),
    };
    Ok(HttpResponse::Ok().json(state.store.credits(&family, state.clock.now()).await?))
}
