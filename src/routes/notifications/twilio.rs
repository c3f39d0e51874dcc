//! Twilio's webhooks: inbound texts (`STOP` / `START`) and delivery
//! receipts. Each request must carry a valid `X-Twilio-Signature` for the
//! URL Twilio called; anything else is refused with 403 and changes
//! nothing.

use actix_web::{HttpRequest, HttpResponse, web};
use cms_domain::notify::DeliveryStatus;

use crate::notify::sms::verify_signature;
use crate::routes::error::ApiError;
use crate::state::AppState;

pub const SMS_PATH: &str = "/webhooks/twilio/sms";
pub const STATUS_PATH: &str = "/webhooks/twilio/status";

/// Twilio's standard opt-out and opt-in keywords.
const STOP_WORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "REVOKE",
];
const START_WORDS: &[&str] = &["START", "YES", "UNSTOP"];

type Form = web::Form<Vec<(String, String)>>;

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The form, if Twilio signed it for the URL it called.
fn verified(
    state: &AppState,
    req: &HttpRequest,
    form: &[(String, String)],
) -> Result<(), ApiError> {
    let refuse = || ApiError::Forbidden("bad or missing X-Twilio-Signature".into());
    let token = state.sms.auth_token.as_deref().ok_or_else(refuse)?;
    let header = req
        .headers()
        .get("X-Twilio-Signature")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(refuse)?;
    // Behind a proxy the URL Twilio called is only known from config.
    let url = match &state.sms.public_url {
        Some(base) => format!("{}{}", base.trim_end_matches('/'), req.uri()),
        None => {
            let c = req.connection_info();
            format!("{}://{}{}", c.scheme(), c.host(), req.uri())
        }
    };
    if verify_signature(token, &url, form, header) {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// An empty TwiML answer: no reply text (Twilio's own opt-out handling
/// answers STOP itself).
fn twiml() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml")
        .body("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>")
}

pub async fn inbound_sms(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Form,
) -> Result<HttpResponse, ApiError> {
    verified(&state, &req, &form)?;
    let (Some(from), Some(body)) = (field(&form, "From"), field(&form, "Body")) else {
        return Err(ApiError::Invalid("From and Body are required".into()));
    };
    let word = body.trim().to_ascii_uppercase();
    let now = state.clock.now();
    if STOP_WORDS.contains(&word.as_str()) {
        state.store.set_sms_stopped(from, true, now).await?;
        tracing::info!("SMS turned off for a number by STOP");
    } else if START_WORDS.contains(&word.as_str()) {
        state.store.set_sms_stopped(from, false, now).await?;
        tracing::info!("SMS turned on for a number by START");
    }
    Ok(twiml())
}

pub async fn status_callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Form,
) -> Result<HttpResponse, ApiError> {
    verified(&state, &req, &form)?;
    let Some(sid) = field(&form, "MessageSid") else {
        return Err(ApiError::Invalid("MessageSid is required".into()));
    };
    let status = field(&form, "MessageStatus").unwrap_or_default();
    let (ours, error) = match status {
        "delivered" => (DeliveryStatus::Delivered, None),
        "failed" | "undelivered" => (
            DeliveryStatus::Failed,
            Some(format!(
                "twilio: {status} (error {})",
                field(&form, "ErrorCode").unwrap_or("none")
            )),
        ),
        // queued, sending, sent: nothing new for us.
        _ => return Ok(HttpResponse::NoContent().finish()),
    };
    state
        .store
        .sms_status(sid, ours, error.as_deref(), state.clock.now())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
