//! A local fake of Twilio's Messages API for tests: accepts (or, on request,
//! refuses) message POSTs, lists accepted messages, and records every
//! request so tests can check exactly what the server sent.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::json;

const MESSAGES: &str = "/2010-04-01/Accounts/{sid}/Messages.json";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, still URL-encoded.
    pub query: String,
    pub authorization: Option<String>,
    /// Form fields of a POST, in the order sent.
    pub form: Vec<(String, String)>,
    /// The `SM…` sid of a message the fake accepted, whether or not its
    /// answer got through.
    pub sid: Option<String>,
}

impl Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A message the fake accepted, as the list endpoint reports it.
#[derive(Debug, Clone)]
struct Accepted {
    sid: String,
    to: String,
    body: String,
    date_sent: String,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    sent: Vec<Recorded>,
    accepted: Vec<Accepted>,
    /// POSTs still to fail, and with which status.
    fail_next: (usize, u16),
    fail_always: Option<u16>,
    /// POSTs still to accept but answer with a 500, as if the answer
    /// were lost.
    accept_but_fail: usize,
    next_sid: u64,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A test that panicked while holding the lock should not hide the
    // original failure behind a poisoned mutex.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub struct FakeTwilio {
    /// "http://127.0.0.1:<port>": the server's `twilio_base_url`.
    pub base: String,
    state: Shared,
    handle: ServerHandle,
}

impl FakeTwilio {
    pub async fn start() -> FakeTwilio {
        let state = Shared::default();
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(MESSAGES, web::post().to(create))
                .route(MESSAGES, web::get().to(list))
                .default_service(web::to(unknown))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .bind(("127.0.0.1", 0))
        .expect("fake Twilio binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        FakeTwilio {
            base: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    /// The next n POSTs to Messages.json fail with this HTTP status and a
    /// Twilio-shaped JSON error body; afterwards they succeed.
    pub fn fail_next(&self, n: usize, status: u16) {
        lock(&self.state).fail_next = (n, status);
    }

    /// Every POST fails with this status from now on (None: succeed).
    pub fn fail_always(&self, status: Option<u16>) {
        lock(&self.state).fail_always = status;
    }

    /// The next n POSTs to Messages.json are accepted (kept, and listed by
    /// GET) but answered with a 500, as when Twilio takes a message and its
    /// answer never arrives.
    pub fn accept_but_fail_next(&self, n: usize) {
        lock(&self.state).accept_but_fail = n;
    }

    /// Messages the fake took, including those whose answer was lost.
    pub fn accepted_count(&self) -> usize {
        lock(&self.state).accepted.len()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// The successful (201) message POSTs only.
    pub fn sent(&self) -> Vec<Recorded> {
        lock(&self.state).sent.clone()
    }

    /// Waits (on real time, not a test clock) until at least n messages were
    /// accepted, and returns them all. Panics after `timeout`.
    pub async fn wait_for_sent(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let sent = self.sent();
            if sent.len() >= n {
                return sent;
            }
            assert!(
                Instant::now() < deadline,
                "fake Twilio: {} of {n} messages after {timeout:?}: {sent:#?}",
                sent.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        // `stop` sends the command at once; nothing needs to await it.
        drop(self.handle.stop(false));
    }
}

fn record(req: &HttpRequest, form: Vec<(String, String)>) -> Recorded {
    Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        form,
        sid: None,
    }
}

/// Twilio's error code for a status, close enough for tests.
fn error_code(status: u16) -> u32 {
    match status {
        400 => 21211,
        401 => 20003,
        404 => 20404,
        429 => 20429,
        _ => 20500,
    }
}

/// A Twilio-shaped error answer.
fn error(status: u16) -> HttpResponse {
    let code = error_code(status);
    let http = actix_web::http::StatusCode::from_u16(status).expect("valid status");
    HttpResponse::build(http).json(json!({
        "code": code,
        "message": format!("fake Twilio failure ({status})"),
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    }))
}

async fn create(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let mut rec = record(&req, form.into_inner());
    let mut s = lock(&state);
    let refused = if s.fail_next.0 > 0 {
        s.fail_next.0 -= 1;
        Some(s.fail_next.1)
    } else {
        s.fail_always
    };
    if let Some(status) = refused {
        s.requests.push(rec);
        return error(status);
    }
    s.next_sid += 1;
    let sid = format!(
        "SM{:032x}",
        (u128::from(std::process::id()) << 64) | u128::from(s.next_sid)
    );
    rec.sid = Some(sid.clone());
    let to = rec.field("To").unwrap_or_default().to_owned();
    let body = rec.field("Body").unwrap_or_default().to_owned();
    let now = chrono::Utc::now().to_rfc2822();
    s.accepted.push(Accepted {
        sid: sid.clone(),
        to: to.clone(),
        body: body.clone(),
        date_sent: now.clone(),
    });
    s.requests.push(rec.clone());
    if s.accept_but_fail > 0 {
        s.accept_but_fail -= 1;
        return error(500);
    }
    s.sent.push(rec);
    HttpResponse::Created().json(json!({
        "sid": sid,
        "status": "queued",
        "to": to,
        "body": body,
        "date_created": now,
    }))
}

/// Lists accepted messages, newest first as Twilio does, filtered by `To`.
/// `DateSent>` is ignored: tests often run the server on a manual clock
/// far from the real date this fake stamps messages with.
async fn list(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let mut s = lock(&state);
    s.requests.push(record(&req, Vec::new()));
    let to = query
        .iter()
        .find(|(k, _)| k == "To")
        .map(|(_, v)| v.as_str());
    let messages: Vec<_> = s
        .accepted
        .iter()
        .rev()
        .filter(|m| to.is_none_or(|to| m.to == to))
        .map(|m| {
            json!({
                "sid": m.sid,
                "to": m.to,
                "body": m.body,
                "status": "delivered",
                "date_sent": m.date_sent,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({ "messages": messages }))
}

async fn unknown(req: HttpRequest, state: web::Data<Shared>) -> HttpResponse {
    lock(&state).requests.push(record(&req, Vec::new()));
    HttpResponse::NotFound().json(json!({
        "code": 20404,
        "message": "The requested resource was not found",
        "status": 404,
    }))
}
