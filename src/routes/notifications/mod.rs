//! Notifications: the in-app inbox, a user's channel switches, and
//! Twilio's webhooks (STOP/START and delivery receipts).

pub mod inbox;
pub mod prefs;
pub mod twilio;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(inbox::list)
        .service(inbox::mark_read)
        .service(prefs::get_prefs)
        .service(prefs::put_prefs);
}
