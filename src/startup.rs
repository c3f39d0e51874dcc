//! Building and running the server: `Application::build` opens the store,
//! starts the registry and binds the listener (reporting the real port, so
//! tests can bind port 0); `run_until_stopped` serves until SIGTERM/SIGINT
//! or `stop()`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::{Addr, AsyncContext};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use cms_actors::rate_limit::RateLimit;
use cms_actors::registry::CloseAll;
use cms_actors::socket::SocketConfig;
use cms_actors::{Broker, Clock, LocalBroker, Registry, SystemClock};
use utoipa_actix_web::AppExt;

use crate::auth::TokenKeys;
use crate::config::Config;
use crate::lessons::Lessons;
use crate::notify::NotifyHandle;
use crate::notify::deliver::Notifier;
use crate::notify::email::{EmailError, Mailer};
use crate::notify::sms::{SmsError, Twilio};
use crate::state::AppState;
use cms_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("could not open the store")]
    Store(#[from] StoreError),
    #[error("email is misconfigured")]
    Email(#[from] EmailError),
    #[error("SMS is misconfigured")]
    Sms(#[from] SmsError),
    #[error("uploads are misconfigured")]
    Uploads(#[from] crate::files::UploadSetupError),
    #[error("Stripe is misconfigured")]
    Stripe(#[source] crate::billing::stripe::StripeFailure),
    #[error("billing is misconfigured: {0}")]
    Billing(String),
    #[error("could not write the OpenAPI document")]
    Document(#[source] serde_json::Error),
    #[error("could not listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    host: String,
    server: Server,
    registry: Addr<Registry>,
    store: Store,
    notifier: NotifyHandle,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let store = Store::open(&config.database).await?;
        Self::build_on_store(config, clock, store).await
    }

    /// A node on a store that is already open: what a second process on a
    /// shared database is, for tests in one process (`config.database`
    /// is not read).
    pub async fn build_on_store(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Store,
    ) -> Result<Self, StartupError> {
        let secret = match &config.auth.secret {
            Some(s) => s.clone(),
            None => store.token_secret().await?,
        };
        let store_for_actors: Arc<dyn cms_actors::ChatStore> =
            Arc::new(crate::chat_port::ActorStore {
                store: store.clone(),
                writer: crate::chat_writer::ChatWriter::start(store.clone()),
            });
        let idle = Duration::from_secs(config.actors.idle_secs);
        let store_handle = store.clone();
        // The registry's address comes first: the lesson rooms' port needs
        // the use cases, whose broker needs the address. It runs below,
        // once the port exists; what is sent to it meanwhile waits.
        let registry_ctx = actix::Context::<Registry>::new();
        let registry = registry_ctx.address();
        let mailer = Mailer::from_config(&config.email)?;
        let twilio = Twilio::from_config(&config.sms)?;
        tracing::info!(email = %mailer.describe(), sms = twilio.is_some(), "notifications");
        let broker: Arc<dyn Broker> = Arc::new(LocalBroker::new(registry.clone()));
        let notifier = Arc::new(Notifier {
            store: store_handle.clone(),
            mailer,
            twilio,
            broker: broker.clone(),
            clock: clock.clone(),
            config: config.reminders.clone(),
            notice: config.scheduling.policy().notice,
            status_callback: config.sms.public_url.as_ref().map(|u| {
                format!(
                    "{}{}",
                    u.trim_end_matches('/'),
                    crate::routes::TWILIO_STATUS_PATH
                )
            }),
            app_url: config
                .public_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_owned()),
        });
        let timers: Arc<dyn crate::notify::scheduler::Timers> =
            Arc::new(crate::lessons::timers::LessonTimers {
                store: store.clone(),
                clock: clock.clone(),
                broker: broker.clone(),
                timing: config.lessons.timing(),
                credit_valid: config.scheduling.policy().credit_valid,
            });
        let notify = NotifyHandle::start_with(notifier, Some(timers));
        let notify_handle = notify.clone();
        let s = &config.socket;
        let uploads = crate::files::Uploads::from_config(
            &config.uploads,
            &config.database.url,
            store.clone(),
            clock.clone(),
        )
        .await?;
        let documents = crate::documents::Documents {
            store: store.clone(),
            uploads,
            broker: broker.clone(),
            clock: clock.clone(),
            config: config.documents.clone(),
            notifier: notify.clone(),
        };
        crate::documents::rescan::start(documents.clone(), config.uploads.rescan_every_secs);
        let stripe = match crate::billing::stripe::StripeApi::from_config(&config.stripe) {
            None => {
                tracing::info!("billing is off: no stripe.secret_key; nothing will be charged");
                None
            }
            Some(built) => Some(built.map_err(StartupError::Stripe)?),
        };
        let billing = crate::billing::Billing {
            store: store.clone(),
            clock: clock.clone(),
            stripe,
            stripe_config: config.stripe.clone(),
            rules: crate::billing::charge::ChargeRules::from_config(&config.billing)
                .map_err(StartupError::Billing)?,
            broker: broker.clone(),
            notifier: notify.clone(),
        };
        let charging = match &billing.stripe {
            None => None,
            Some(_) => {
                let charger = crate::billing::charge::ChargerHandle::default();
                crate::billing::charge::Charger::start(billing.clone(), charger.clone());
                Some(crate::billing::charge::Charging {
                    rules: billing.rules.clone(),
                    charger,
                })
            }
        };
        let homework = crate::homework::Homework {
            store: store.clone(),
            uploads: documents.uploads.clone(),
            broker: broker.clone(),
            clock: clock.clone(),
            notifier: notify.clone(),
        };
        let lessons = Lessons {
            store: store.clone(),
            clock: clock.clone(),
            broker,
            notifier: notify.clone(),
            scheduling: config.scheduling.clone(),
            reminders: config.reminders.clone(),
            bookings_per_family_per_day: config.limits.bookings_per_family_per_day,
            timing: config.lessons.timing(),
            charging,
        };
        let lesson_room = Arc::new(crate::lesson_port::LessonRoom {
            lessons: lessons.clone(),
            video: config.video.clone(),
            secret: secret.as_bytes().to_vec(),
        });
        registry_ctx
            .run(Registry::new(store_for_actors, clock.clone(), idle).with_lessons(lesson_room));
        let state = web::Data::new(AppState {
            store,
            registry: registry.clone(),
            keys: TokenKeys::new(secret.as_bytes()),
            clock: clock.clone(),
            token_ttl: chrono::Duration::seconds(config.auth.token_ttl_secs as i64),
            socket_config: SocketConfig {
                client_timeout: Duration::from_secs(s.client_timeout_secs),
                rate: RateLimit {
                    per_second: s.rate_per_second,
                    burst: s.rate_burst,
                    close_after: s.rate_close_after,
                },
                sockets_per_user: config.limits.sockets_per_user,
                topics_per_socket: config.limits.topics_per_socket,
                messages_per_user_per_second: config.limits.messages_per_user_per_second,
                clock,
            },
            socket: s.clone(),
            scheduling: config.scheduling.clone(),
            sms: config.sms.clone(),
            lessons,
            limits: config.limits.clone(),
            account_guards: crate::auth::AccountGuards::new(&config.limits),
            documents,
            homework,
            billing,
        });
        // Made now, not on the first login for an unknown address, which
        // would otherwise stand out by its timing.
        tokio::spawn(crate::auth::warm_dummy_hash());
        let bind_err = |source| StartupError::Bind {
            addr: config.listen.clone(),
            source,
        };
        let listener = TcpListener::bind(&config.listen).map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        // Absolute URLs come from configuration, never a request's Host.
        let public_url = web::Data::new(config.public_root(local));
        // Made once: mounting the routes on a throwaway app collects them.
        let metrics_config = web::Data::new(config.metrics.clone());
        // Installed before the first request, so every series is there
        // from the start.
        crate::metrics::handle();
        let document = web::Data::new(
            crate::routes::Document::new(&crate::routes::base_document())
                .map_err(StartupError::Document)?,
        );
        let https = public_url.0.starts_with("https://");
        let limits = &config.limits;
        let http_limits = web::Data::new(crate::http_guard::HttpLimits {
            connections_per_address: limits.connections_per_address,
            request_timeout: Duration::from_secs(limits.request_body_timeout_secs),
        });
        let connections = crate::http_guard::Connections::default();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(crate::metrics::http))
                .wrap(actix_web::middleware::from_fn(crate::http_guard::deadline))
                .wrap(crate::http_guard::security_headers(https))
                .app_data(http_limits.clone())
                .wrap(crate::telemetry::access_log())
                .app_data(state.clone())
                .app_data(public_url.clone())
                .app_data(document.clone())
                .app_data(metrics_config.clone())
                .into_utoipa_app()
                .configure(crate::routes::configure)
                .into_app()
        })
        // Socket pushes are small frames that must leave at once; with
        // Nagle's algorithm a second push waits for the client's delayed
        // ACK (40 ms on Linux).
        .on_connect(move |conn, ext| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
                if let Ok(peer) = tcp.peer_addr() {
                    connections.opened(peer.ip(), ext);
                }
            }
        })
        // A client has this long to send a request's headers.
        .client_request_timeout(Duration::from_secs(limits.request_head_timeout_secs))
        .listen(listener)
        .map_err(bind_err)?
        // Signals are handled below, so sockets get a 1001 close first.
        .disable_signals()
        .shutdown_timeout(config.shutdown_timeout_secs)
        .run();
        Ok(Self {
            port: local.port(),
            host: local.ip().to_string(),
            server,
            registry,
            store: store_handle,
            notifier: notify_handle,
        })
    }

    /// The store the server uses (admin tooling and tests).
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Wakes the reminder scheduler (tools that write jobs directly).
    pub fn notifier(&self) -> NotifyHandle {
        self.notifier.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn handle(&self) -> AppHandle {
        AppHandle {
            server: self.server.handle(),
            registry: self.registry.clone(),
        }
    }

    /// Serves until SIGTERM or SIGINT (or `AppHandle::stop`), then shuts
    /// down gracefully.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.handle();
        actix_web::rt::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received; shutting down");
            handle.stop().await;
        });
        self.server.await
    }
}

/// Stops a running application.
#[derive(Clone)]
pub struct AppHandle {
    server: ServerHandle,
    registry: Addr<Registry>,
}

impl AppHandle {
    /// Stop accepting, close every socket with 1001, let in-flight requests
    /// and writes finish, then stop.
    pub async fn stop(&self) {
        let server = self.server.clone();
        // Stop accepting first, without waiting for the sockets to drain.
        let pause = server.pause();
        pause.await;
        if let Ok(n) = self.registry.send(CloseAll).await {
            tracing::info!(sockets = n, "closing sockets");
        }
        server.stop(true).await;
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
