//! Configuration: defaults, then `cms.toml`, then `CMS_*` environment
//! variables, then command-line flags. Every key is documented in README.md.
//!
//! Environment names are `CMS_<SECTION>_<KEY>` (`CMS_DATABASE_URL` →
//! `database.url`, `CMS_SOCKET_CLIENT_TIMEOUT_SECS` →
//! `socket.client_timeout_secs`) or `CMS_<KEY>` for top-level keys
//! (`CMS_LISTEN`).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use cms_store::DatabaseConfig;

use crate::cli::Cli;
pub use crate::files::config::{DocumentsConfig, UploadsConfig};
pub use crate::video::VideoConfig;

const SECTIONS: &[&str] = &[
    "database",
    "auth",
    "socket",
    "actors",
    "log",
    "scheduling",
    "reminders",
    "email",
    "sms",
    "limits",
    "lessons",
    "video",
    "uploads",
    "documents",
    "stripe",
    "billing",
    "metrics",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// host:port; port 0 picks a free port.
    pub listen: String,
    /// This server's public root, e.g. `https://api.example.org`: every
    /// absolute URL shown to users (the calendar feed's) starts with it.
    /// Unset: `http://` and the address the server listens on, never the
    /// request's Host header (a client could put anything there).
    pub public_url: Option<String>,
    /// Seconds to finish in-flight work at shutdown.
    pub shutdown_timeout_secs: u64,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub socket: SocketSettings,
    pub actors: ActorSettings,
    pub log: LogConfig,
    pub scheduling: SchedulingConfig,
    pub reminders: RemindersConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub limits: LimitsConfig,
    pub lessons: LessonsConfig,
    pub video: VideoConfig,
    pub uploads: UploadsConfig,
    pub documents: DocumentsConfig,
    pub stripe: StripeConfig,
    pub billing: BillingConfig,
    pub metrics: MetricsConfig,
}

/// `GET /metrics` (README, "Metrics").
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`
    /// (a scraper's); unset, anyone who reaches the port may read it.
    pub token: Option<String>,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Every abuse limit and cap in one place, so operators and test harnesses
/// tune them together. Loopback is not exempt. docs/security.md says what a
/// client gets when it hits each one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Accounts one address may register in an hour.
    pub register_per_address_per_hour: u32,
    /// Wrong passwords for one account (or from one address) before each
    /// further attempt waits, doubling; time unlocks it.
    pub login_failures_before_backoff: u32,
    /// Children one family may hold.
    pub children_per_family: u32,
    /// Conversations one family may open with one tutor (one per child is
    /// the design).
    pub conversations_per_pair: u32,
    /// Sockets one user may hold open at once.
    pub sockets_per_user: u32,
    /// Topics one socket may join.
    pub topics_per_socket: u32,
    /// Chat messages one user may send per second across all their sockets.
    pub messages_per_user_per_second: u32,
    /// Bookings one family may request in a day (UTC).
    pub bookings_per_family_per_day: u32,
    /// Seconds a client has to send a request's headers.
    pub request_head_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    pub request_body_timeout_secs: u64,
    /// Connections one address may hold open at once.
    pub connections_per_address: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            register_per_address_per_hour: 20,
            login_failures_before_backoff: 5,
            children_per_family: 12,
            conversations_per_pair: 12,
            sockets_per_user: 10,
            topics_per_socket: 200,
            messages_per_user_per_second: 10,
            bookings_per_family_per_day: 100,
            request_head_timeout_secs: 5,
            request_body_timeout_secs: 10,
            connections_per_address: 256,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// HMAC key for tokens. When unset, one is generated once and kept in
    /// the database, so every node on that database shares it.
    pub secret: Option<String>,
    pub token_ttl_secs: u64,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("token_ttl_secs", &self.token_ttl_secs)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SocketSettings {
    /// Close a socket silent for this long (Phoenix clients beat every 30 s).
    pub client_timeout_secs: u64,
    pub rate_per_second: f64,
    pub rate_burst: f64,
    /// Refused frames within 10 s after which the socket is closed.
    pub rate_close_after: u32,
    /// Origins allowed to open sockets; empty allows any (native apps send
    /// none).
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ActorSettings {
    /// A topic actor with no sockets stops after this long.
    pub idle_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub json: bool,
    /// tracing filter, e.g. `info` or `cms_server=debug,info`.
    pub filter: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulingConfig {
    /// A parent cancelling with at least this much notice pays nothing and
    /// gets a makeup credit; with less, the lesson is chargeable.
    pub cancel_notice_hours: u32,
    /// A makeup credit expires this many days after it is issued.
    pub credit_valid_days: u32,
    /// Most occurrences one series may have.
    pub max_series_occurrences: u32,
    /// Longest window a calendar or slot query may span.
    pub max_query_days: u32,
}

impl Default for SchedulingConfig {
    fn default() -> Self {
        Self {
            cancel_notice_hours: 24,
            credit_valid_days: 90,
            max_series_occurrences: 104,
            max_query_days: 366,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RemindersConfig {
    /// Reminders go this many minutes before each lesson.
    pub offsets_min: Vec<u32>,
    /// Provider attempts per delivery before it is marked failed.
    pub max_attempts: u32,
    /// First retry after this many seconds, doubling each time.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
}

impl Default for RemindersConfig {
    fn default() -> Self {
        Self {
            offsets_min: vec![24 * 60, 2 * 60],
            max_attempts: 5,
            backoff_base_secs: 30,
            backoff_max_secs: 3600,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailConfig {
    /// `smtps://user:pass@host:465` (TLS) or `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS). Unset: messages are written to `outbox_dir` instead.
    pub smtp_url: Option<String>,
    /// The From header, e.g. `CMS Education <no-reply@example.org>`.
    pub from: String,
    pub outbox_dir: String,
    /// Most pooled SMTP connections.
    pub pool_max: u32,
    /// Seconds before an SMTP command times out.
    pub timeout_secs: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "CMS Education <no-reply@cms-education.invalid>".into(),
            outbox_dir: "data/outbox".into(),
            pool_max: 4,
            timeout_secs: 30,
        }
    }
}

impl std::fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("outbox_dir", &self.outbox_dir)
            .field("pool_max", &self.pool_max)
            .finish()
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SmsConfig {
    /// Twilio's API root; tests point it at a local server.
    pub twilio_base_url: String,
    /// SMS is off unless the account SID, auth token and sender are set.
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
    /// Sender: an E.164 number or a messaging service SID (`MG…`).
    pub from: Option<String>,
    /// This server's public root as Twilio reaches it, e.g.
    /// `https://api.example.org`; webhook signatures are checked against it
    /// and status callbacks are sent to it. Unset: no status callbacks.
    pub public_url: Option<String>,
    /// Seconds before a Twilio request times out.
    pub timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            twilio_base_url: "https://api.twilio.com".into(),
            account_sid: None,
            auth_token: None,
            from: None,
            public_url: None,
            timeout_secs: 15,
        }
    }
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConfig")
            .field("twilio_base_url", &self.twilio_base_url)
            .field("account_sid", &self.account_sid)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("from", &self.from)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// The root of every absolute URL shown to users, without a trailing
/// slash (`Config::public_root`); handlers take it as `web::Data`.
#[derive(Debug, Clone)]
pub struct PublicUrl(pub String);

impl Config {
    /// `public_url`, else `http://` and the address actually bound (the
    /// real port when `listen` asked for port 0).
    pub fn public_root(&self, bound: std::net::SocketAddr) -> PublicUrl {
        PublicUrl(match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        })
    }
}

/// A lesson as it happens (docs/lessons.md, "Lifecycle"): minutes around
/// its start and end.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LessonsConfig {
    /// The room opens, and the tutor may start, this long before the start.
    pub room_opens_min: u32,
    /// A student joining more than this after the start is marked late.
    pub late_after_min: u32,
    /// A lesson nobody started this long after its start is a tutor
    /// no-show; it can no longer be started.
    pub no_show_after_min: u32,
    /// A live lesson nobody ended this long after its end is ended by the
    /// server.
    pub auto_end_min: u32,
}

impl Default for LessonsConfig {
    fn default() -> Self {
        Self {
            room_opens_min: 10,
            late_after_min: 5,
            no_show_after_min: 15,
            auto_end_min: 30,
        }
    }
}

impl LessonsConfig {
    pub fn timing(&self) -> cms_domain::lifecycle::Timing {
        let min = |m: u32| chrono::Duration::minutes(i64::from(m));
        cms_domain::lifecycle::Timing {
            room_opens: min(self.room_opens_min),
            late_after: min(self.late_after_min),
            no_show_after: min(self.no_show_after_min),
            auto_end: min(self.auto_end_min),
        }
    }
}

impl SchedulingConfig {
    pub fn policy(&self) -> cms_domain::scheduling::policy::Policy {
        cms_domain::scheduling::policy::Policy {
            notice: chrono::Duration::hours(i64::from(self.cancel_notice_hours)),
            credit_valid: chrono::Duration::days(i64::from(self.credit_valid_days)),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:4000".into(),
            public_url: None,
            shutdown_timeout_secs: 10,
            database: DatabaseConfig::default(),
            auth: AuthConfig::default(),
            socket: SocketSettings::default(),
            actors: ActorSettings::default(),
            log: LogConfig::default(),
            scheduling: SchedulingConfig::default(),
            reminders: RemindersConfig::default(),
            email: EmailConfig::default(),
            sms: SmsConfig::default(),
            limits: LimitsConfig::default(),
            lessons: LessonsConfig::default(),
            video: VideoConfig::default(),
            uploads: UploadsConfig::default(),
            documents: DocumentsConfig::default(),
            stripe: StripeConfig::default(),
            billing: BillingConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            secret: None,
            token_ttl_secs: 7 * 24 * 3600,
        }
    }
}

impl Default for SocketSettings {
    fn default() -> Self {
        Self {
            client_timeout_secs: 60,
            rate_per_second: 20.0,
            rate_burst: 60.0,
            rate_close_after: 100,
            allowed_origins: Vec::new(),
        }
    }
}

impl Default for ActorSettings {
    fn default() -> Self {
        Self { idle_secs: 300 }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            json: false,
            filter: "info".into(),
        }
    }
}

impl Config {
    pub fn load(cli: &Cli) -> Result<Self, Box<figment::Error>> {
        let env = Env::prefixed("CMS_").map(|key| {
            // Keys arrive as written (upper case); figment lowercases later.
            let k = key.as_str().to_ascii_lowercase();
            match k.split_once('_') {
                Some((section, rest)) if SECTIONS.contains(&section) => {
                    format!("{section}.{rest}").into()
                }
                _ => k.into(),
            }
        });
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&cli.config))
            .merge(env)
            .extract()
            .map_err(Box::new)?;
        if let Some(l) = &cli.listen {
            config.listen = l.clone();
        }
        if let Some(u) = &cli.database_url {
            config.database.url = u.clone();
        }
        if cli.log_json {
            config.log.json = true;
        }
        Ok(config)
    }
}

// `[stripe]` and `[billing]` (docs/billing.md). Without
// `stripe.secret_key` billing is off: the server says so in its log,
// nothing is charged and lessons work as before.

/// Stripe's API and webhooks.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StripeConfig {
    /// `sk_live_…`/`sk_test_…`; unset: billing off.
    pub secret_key: Option<String>,
    /// `whsec_…`: the `Stripe-Signature` of `POST /webhooks/stripe` is
    /// checked with it; unset: every webhook is refused.
    pub webhook_secret: Option<String>,
    /// Stripe's API root; tests point it at a local server.
    pub api_base: String,
    /// Seconds a webhook's signed timestamp may be old (or ahead).
    pub webhook_tolerance_secs: i64,
    /// Seconds before a Stripe request times out.
    pub timeout_secs: u64,
}

impl Default for StripeConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            webhook_secret: None,
            api_base: "https://api.stripe.com/".into(),
            webhook_tolerance_secs: 300,
            timeout_secs: 30,
        }
    }
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("StripeConfig")
            .field("secret_key", &redacted(&self.secret_key))
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("api_base", &self.api_base)
            .field("webhook_tolerance_secs", &self.webhook_tolerance_secs)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// The business's money rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingConfig {
    /// The platform's share of each charge, in basis points (2000 = 20 %).
    pub platform_fee_bps: i64,
    /// ISO currency of every charge, lower case.
    pub currency: String,
    /// The sibling discount by a child's rank in a week, in basis points:
    /// first child, second, third and beyond.
    pub sibling_discount_bps: Vec<i64>,
    /// The weekday tutors are paid on (`mon` … `sun`).
    pub payout_weekday: String,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            platform_fee_bps: 2000,
            currency: "gbp".into(),
            sibling_discount_bps: vec![0, 1000, 1500],
            payout_weekday: "fri".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API
    fn file_then_environment_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "cms.toml",
                "listen = \"0.0.0.0:1\"\n[socket]\nrate_burst = 7.0\nclient_timeout_secs = 9\n",
            )?;
            jail.set_env("CMS_SOCKET_RATE_BURST", "100000");
            jail.set_env("CMS_DATABASE_URL", "mem://");
            jail.set_env("CMS_AUTH_TOKEN_TTL_SECS", "60");
            let cli = Cli::parse_from(["cms-server", "--listen", "127.0.0.1:0"]);
            let c = Config::load(&cli).map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "127.0.0.1:0");
            assert_eq!(c.socket.rate_burst, 100000.0);
            assert_eq!(c.socket.client_timeout_secs, 9);
            assert_eq!(c.database.url, "mem://");
            assert_eq!(c.auth.token_ttl_secs, 60);
            assert_eq!(c.actors.idle_secs, 300, "defaults fill the rest");
            Ok(())
        });
    }
}
