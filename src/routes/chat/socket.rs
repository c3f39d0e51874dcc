//! `GET /socket/websocket`: authenticates, then hands the connection to a
//! `SocketSession` actor.
//!
//! The token comes from the `token` query param (`new Socket(url, {params:
//! {token}})`) or from `Sec-WebSocket-Protocol`, where phoenix.js 1.8's
//! `authToken` option sends `base64url.bearer.phx.<base64url(token)>` next
//! to `phoenix`, so tokens need not appear in URLs and logs. Anything wrong,
//! or a suspended tutor, is answered 403 without an upgrade; a user already
//! holding `limits.sockets_per_user` sockets is answered 429 without one.
//!
//! The socket lives until its token's `exp` at most (it closes with 4001
//! then), so the expiry is read from the token here and handed to it.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine;
use cms_actors::Role;
use cms_actors::socket::{self, AdmitError};
use cms_domain::tutor::TutorStatus;
use cms_store::StoreError;
use serde_json::json;

use crate::routes::error::ApiError;
use crate::routes::extract::authenticate;
use crate::state::AppState;

const BEARER_PREFIX: &str = "base64url.bearer.phx.";

fn forbidden(message: &str) -> HttpResponse {
    HttpResponse::Forbidden().json(json!({ "error": "forbidden", "message": message }))
}

/// The token from the protocol header, if the client sent one there.
fn token_from_protocols(req: &HttpRequest) -> Option<String> {
    let header = req.headers().get("sec-websocket-protocol")?.to_str().ok()?;
    let encoded = header
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(BEARER_PREFIX))?;
    let trimmed = encoded.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn token_from_query(req: &HttpRequest) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()?
        .get("token")
        .cloned()
}

pub async fn socket(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let allowed = &state.socket.allowed_origins;
    if !allowed.is_empty() {
        let origin = req.headers().get("origin").and_then(|o| o.to_str().ok());
        if let Some(origin) = origin
            && !allowed.iter().any(|a| a == origin)
        {
            return Ok(forbidden("origin not allowed"));
        }
    }
    let Some(token) = token_from_query(&req).or_else(|| token_from_protocols(&req)) else {
        return Ok(forbidden("missing token"));
    };
    let user = match authenticate(&state, &token).await {
        Ok(u) => u,
        Err(ApiError::Unauthorized) => return Ok(forbidden("bad, expired or revoked token")),
        Err(e) => return Err(e.into()),
    };
    // Suspension closed the tutor's sockets (4003); it also keeps them
    // from opening new ones with a token they still hold.
    if user.role == Role::Tutor {
        match state.store.tutor_profile(&user.user_id).await {
            Ok(p) if p.status == TutorStatus::Suspended => {
                return Ok(forbidden("account suspended"));
            }
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(ApiError::from(e).into()),
        }
    }
    // `authenticate` has just checked it; read again only for its expiry.
    let Some(expires_at) = state
        .keys
        .verify(&token, state.clock.now())
        .and_then(|c| chrono::DateTime::from_timestamp(c.exp, 0))
    else {
        return Ok(forbidden("bad, expired or revoked token"));
    };
    let config = &state.socket_config;
    let admitted = match socket::admit(&state.registry, user.identity(), expires_at, config).await {
        Ok(a) => a,
        Err(AdmitError::TooManySockets(too_many)) => {
            let message = format!("{too_many}; close one first");
            return Ok(ApiError::TooMany {
                message,
                retry_after: None,
            }
            .error_response());
        }
        Err(AdmitError::Unavailable(e)) => return Err(ApiError::internal(e).into()),
    };
    socket::start(
        admitted,
        state.registry.clone(),
        config.clone(),
        &req,
        stream,
    )
}
