//! Chat: the socket endpoint, conversations and their edit audit. Messages
//! themselves travel over the socket (see docs/protocol.md).

pub mod audit;
pub mod conversations;
pub mod socket;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(conversations::create_conversation)
        .service(conversations::list_conversations)
        .service(audit::conversation_audit);
}
