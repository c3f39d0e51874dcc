//! `GET /api/v1/credits`: the family's makeup credits (admins pass
//! `family_id`).

use actix_web::{HttpResponse, web};
use cms_actors::Role;
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CreditsQuery {
    pub family_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/credits", params(CreditsQuery),
    responses((status = 200, body = Vec<cms_store::CreditRow>)), security(("bearer" = [])))]
pub async fn list_credits(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<CreditsQuery>,
) -> Result<HttpResponse, ApiError> {
    let family = match (user.role, &q.family_id) {
        (Role::Admin, Some(f)) => f.clone(),
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
