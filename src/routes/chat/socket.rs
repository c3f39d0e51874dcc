//! `GET /socket/websocket`: authenticates, then hands the connection to a
//! `SocketSession` actor.
//!
//! The token comes from the `token` query param (`new Socket(url, {params:
//! {token}})`) or from `Sec-WebSocket-Protocol`, where phoenix.js 1.8's
//! `authToken` option sends `base64url.bearer.phx.<base64url(token)>` next
//! to `phoenix`, so tokens need not appear in URLs and logs. Anything wrong
//! is answered 403 without an upgrade.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
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
    cms_actors::socket::start(
        user.identity(),
        state.registry.clone(),
        state.socket_config,
        &req,
        stream,
    )
}
