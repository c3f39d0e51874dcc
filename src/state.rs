//! What request handlers share: handles, not logic. Use cases never see
//! this; a handler hands each one the narrow dependencies it takes (for
//! lessons, [`Lessons`]).

use std::sync::Arc;

use actix::Addr;
use cms_actors::socket::SocketConfig;
use cms_actors::{Clock, Registry};
use cms_store::Store;

use crate::auth::TokenKeys;
use crate::config::{LimitsConfig, SchedulingConfig, SmsConfig, SocketSettings};
use crate::lessons::Lessons;

pub struct AppState {
    pub store: Store,
    pub registry: Addr<Registry>,
    pub keys: TokenKeys,
    pub clock: Arc<dyn Clock>,
    pub token_ttl: chrono::Duration,
    pub socket: SocketSettings,
    pub socket_config: SocketConfig,
    /// Search and slot windows are bounded by it.
    pub scheduling: SchedulingConfig,
    /// Webhook checks need Twilio's auth token and our public URL.
    pub sms: SmsConfig,
    /// The lesson use cases and what they need.
    pub lessons: Lessons,
    /// Abuse limits and caps (`[limits]`).
    pub limits: LimitsConfig,
    /// Login and sign-up throttles (in memory, per node).
    pub account_guards: crate::auth::AccountGuards,
    /// Tutors' documents and the upload service under them.
    pub documents: crate::documents::Documents,
    /// Homework, hand-ins, progress and reports.
    pub homework: crate::homework::Homework,
    /// Cards, charges and Stripe's webhooks.
    pub billing: crate::billing::Billing,
}
