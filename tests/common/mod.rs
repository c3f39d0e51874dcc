//! Test harness: the real server on port 0 with a real store, REST helpers,
//! and the protocol client from `cms-loadtest`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod form;
pub mod notify;
pub mod process;
pub mod restart;
pub mod sched;
pub mod smtp;
pub mod stripe;
pub mod twilio;

use std::time::Duration;

use cms_loadtest::PhxClient;
use cms_server::config::Config;
use cms_server::startup::{AppHandle, Application};
use serde_json::{Value, json};

pub const WAIT: Duration = Duration::from_secs(5);

pub struct TestApp {
    pub base: String,
    pub port: u16,
    /// Present for an in-process server.
    pub handle: Option<AppHandle>,
    pub store: Option<cms_store::Store>,
    http: reqwest::Client,
}

/// A registered user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub token: String,
    pub family_id: Option<String>,
}

pub fn test_config() -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".into(),
        ..Config::default()
    };
    c.database.url = "mem://".into();
    c.auth.secret = Some("test-secret".into());
    c.log.filter = "warn".into();
    // Booking notices go to a file outbox unless a test starts SMTP.
    c.email.outbox_dir = std::env::temp_dir()
        .join(format!("cms-test-outbox-{}", std::process::id()))
        .to_string_lossy()
        .into_owned();
    // Every test's clients share one loopback address; the sign-up limit
    // is tested with its own small value (tests/account_abuse.rs).
    c.limits.register_per_address_per_hour = 10_000;
    // Tutors here are booked without DBS paperwork; the DBS rule (on by
    // default in production) is tested on its own (tests/documents.rs).
    c.documents.require_dbs = false;
    c
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_config()).await
}

pub async fn spawn_app_with(config: Config) -> TestApp {
    spawn_app_on(config, std::sync::Arc::new(cms_actors::SystemClock)).await
}

/// A server whose clock stands at `now` until the test moves it. Tokens
/// live for a year so moving the clock does not log anyone out.
pub async fn spawn_app_at(now: &str) -> (TestApp, std::sync::Arc<cms_actors::ManualClock>) {
    spawn_app_at_with(test_config(), now).await
}

/// [`spawn_app_at`] with a config of the test's own.
pub async fn spawn_app_at_with(
    mut config: Config,
    now: &str,
) -> (TestApp, std::sync::Arc<cms_actors::ManualClock>) {
    let now = chrono::DateTime::parse_from_rfc3339(now)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc);
    let clock = std::sync::Arc::new(cms_actors::ManualClock::new(now));
    config.auth.token_ttl_secs = 366 * 24 * 3600;
    (spawn_app_on(config, clock.clone()).await, clock)
}

pub async fn spawn_app_on(config: Config, clock: std::sync::Arc<dyn cms_actors::Clock>) -> TestApp {
    let app = Application::build_with_clock(config, clock)
        .await
        .expect("server builds");
    serve(app)
}

/// Runs a built server in the background.
pub fn serve(app: Application) -> TestApp {
    let port = app.port();
    let handle = app.handle();
    let store = app.store();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        port,
        handle: Some(handle),
        store: Some(store),
        http: reqwest::Client::new(),
    }
}

fn unique_email(tag: &str) -> String {
    let slug: String = tag
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{slug}-{}@example.test", uuid_like())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestApp {
    /// A server in another process, at `port`.
    pub fn remote(port: u16) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            handle: None,
            store: None,
            http: reqwest::Client::new(),
        }
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{}", self.base, path);
        let mut req = match method {
            "GET" => self.http.get(url),
            "POST" => self.http.post(url),
            "PUT" => self.http.put(url),
            "PATCH" => self.http.patch(url),
            other => panic!("method {other}"),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.request("POST", path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.request("PUT", path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.request("GET", path, token, None).await
    }

    pub async fn register(&self, role: &str, name: &str) -> User {
        let (status, body) = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({ "email": unique_email(name), "password": "correct horse", "name": name, "role": role }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        user_from(&body["user"], &body["token"])
    }

    /// A second parent in `parent`'s family, logged in.
    pub async fn add_parent(&self, parent: &User, name: &str) -> User {
        let email = unique_email(name);
        let (status, body) = self
            .post(
                "/api/v1/family/parents",
                Some(&parent.token),
                json!({ "email": email, "password": "correct horse", "name": name }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        self.login(&email).await
    }

    pub async fn login(&self, email: &str) -> User {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({ "email": email, "password": "correct horse" }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        user_from(&body["user"], &body["token"])
    }

    pub async fn conversation(&self, parent: &User, tutor: &User) -> String {
        let (status, body) = self
            .post(
                "/api/v1/conversations",
                Some(&parent.token),
                json!({ "tutor_id": tutor.id }),
            )
            .await;
        assert!(status == 201 || status == 200, "{status} {body}");
        body["id"].as_str().expect("id").to_owned()
    }

    pub fn ws_url(&self, token: &str) -> String {
        format!(
            "ws://127.0.0.1:{}/socket/websocket?vsn=2.0.0&token={token}",
            self.port
        )
    }

    /// A socket for `user`, joined to `topic`.
    pub async fn joined(&self, user: &User, topic: &str) -> PhxClient {
        let c = self.connect(user).await;
        let r = c.join(topic, json!({})).await.expect("join");
        assert_eq!(r.status, cms_protocol::ReplyStatus::Ok, "{:?}", r.response);
        c
    }

    pub async fn connect(&self, user: &User) -> PhxClient {
        PhxClient::connect(&self.ws_url(&user.token))
            .await
            .expect("socket connects")
    }
}

fn user_from(user: &Value, token: &Value) -> User {
    User {
        id: user["id"].as_str().expect("user id").to_owned(),
        token: token.as_str().expect("token").to_owned(),
        family_id: user["family_id"].as_str().map(str::to_owned),
    }
}

/// A family (two parents) and a tutor with a conversation between them.
pub struct Thread {
    pub parent1: User,
    pub parent2: User,
    pub tutor: User,
    pub conversation: String,
}

pub async fn thread(app: &TestApp) -> Thread {
    let parent1 = app.register("parent", "Alice Parent").await;
    let parent2 = app.add_parent(&parent1, "Bob Parent").await;
    let tutor = app.register("tutor", "Tina Tutor").await;
    let conversation = app.conversation(&parent1, &tutor).await;
    Thread {
        parent1,
        parent2,
        tutor,
        conversation,
    }
}

pub fn topic(conversation: &str) -> String {
    format!("conversation:{conversation}")
}

/// An admin, made the way the command line makes one, logged in.
pub async fn admin(app: &TestApp) -> User {
    let email = unique_email("admin");
    cms_server::admin::create_admin(
        app.store.as_ref().expect("in-process"),
        &email,
        "correct horse",
        "Ada Admin",
    )
    .await
    .expect("admin created");
    app.login(&email).await
}

/// Sends `body` (also used as its client_msg_id) and returns the stored
/// message from the ok reply.
pub async fn send(c: &cms_loadtest::PhxClient, topic: &str, body: &str) -> Value {
    let r = c
        .push(
            topic,
            "message:send",
            json!({ "client_msg_id": body, "body": body }),
        )
        .await
        .expect("send");
    assert_eq!(r.status, cms_protocol::ReplyStatus::Ok, "{:?}", r.response);
    r.response["message"].clone()
}
