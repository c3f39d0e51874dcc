//! Notification fixtures: a server on an injected clock whose email goes to
//! a real SMTP server and whose texts go to a local fake Twilio, and ways
//! to read what arrived.

use std::sync::Arc;
use std::time::Duration;

use cms_actors::ManualClock;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};

use super::sched::{School, book_ok, booking};
use super::smtp::{Received, SmtpSink};
use super::twilio::{FakeTwilio, Recorded};
use super::{TestApp, User, spawn_app_on, test_config};

pub const SID: &str = "AC123";
pub const TOKEN: &str = "twilio-auth-token";
pub const FROM: &str = "+447700900999";
pub const WAIT: Duration = Duration::from_secs(10);

static SETTLES: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

pub struct Rig {
    pub app: TestApp,
    pub clock: Arc<ManualClock>,
    pub smtp: SmtpSink,
    pub twilio: FakeTwilio,
}

pub fn config(smtp: &SmtpSink, twilio: &FakeTwilio) -> cms_server::config::Config {
    let mut c = test_config();
    c.auth.token_ttl_secs = 366 * 24 * 3600;
    c.email.smtp_url = Some(smtp.url());
    c.sms.twilio_base_url = twilio.base.clone();
    c.sms.account_sid = Some(SID.into());
    c.sms.auth_token = Some(TOKEN.into());
    c.sms.from = Some(FROM.into());
    c.reminders.max_attempts = 3;
    c.reminders.backoff_base_secs = 60;
    c
}

pub fn instant(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

pub async fn rig(now: &str) -> Rig {
    let smtp = SmtpSink::start();
    let twilio = FakeTwilio::start().await;
    let clock = Arc::new(ManualClock::new(instant(now)));
    let app = spawn_app_on(config(&smtp, &twilio), clock.clone()).await;
    Rig {
        app,
        clock,
        smtp,
        twilio,
    }
}

/// One received email, parsed.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// (content type with parameters, body) of text/calendar parts.
    pub calendars: Vec<(String, String)>,
}

pub fn parse(r: &Received) -> Mail {
    let m = MessageParser::default().parse(&r.data).expect("parses");
    let calendars = m
        .attachments()
        .filter_map(|a| {
            let ct = a.content_type()?;
            if ct.ctype() != "text" || ct.subtype() != Some("calendar") {
                return None;
            }
            let method = ct.attribute("method").unwrap_or_default().to_owned();
            Some((method, String::from_utf8_lossy(a.contents()).into_owned()))
        })
        .collect();
    Mail {
        to: r.to.clone(),
        subject: m.subject().unwrap_or_default().to_owned(),
        text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        html: m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
        calendars,
    }
}

impl Rig {
    pub fn mails(&self) -> Vec<Mail> {
        self.smtp.messages().iter().map(parse).collect()
    }

    /// Mails whose subject starts with `prefix`.
    pub fn mails_about(&self, prefix: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.subject.starts_with(prefix))
            .collect()
    }

    pub fn texts(&self) -> Vec<Recorded> {
        self.twilio.sent()
    }

    pub fn texts_containing(&self, needle: &str) -> Vec<Recorded> {
        self.texts()
            .into_iter()
            .filter(|r| r.field("Body").is_some_and(|b| b.contains(needle)))
            .collect()
    }

    /// Waits until `n` mails in all have arrived.
    pub async fn mails_total(&self, n: usize) -> Vec<Mail> {
        let got = self.smtp.wait_for(n, WAIT).await;
        assert!(got.len() >= n, "expected {n} mails, got {}", got.len());
        got.iter().map(parse).collect()
    }

    /// A point after which every job due by the clock's time has been
    /// worked on: books a far-off lesson for `kid` (which wakes the
    /// scheduler), waits for its confirmation, then until no pending job is
    /// due.
    pub async fn settle(&self, s: &School, kid: &str) {
        use cms_actors::Clock;
        let n = SETTLES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let before = self.mails_about("Booked:").len();
        let day = (self.clock.now() + chrono::Duration::days(400 + n)).format("%Y-%m-%d");
        book_ok(
            &self.app,
            &s.parent,
            booking(&s.tutor, &[kid], &format!("{day}T09:00")),
        )
        .await;
        let store = self.app.store.as_ref().expect("in-process");
        let deadline = std::time::Instant::now() + WAIT;
        // Parent and tutor each get a confirmation.
        while self.mails_about("Booked:").len() < before + 2
            || !store
                .due_jobs(self.clock.now(), 1)
                .await
                .expect("jobs")
                .is_empty()
        {
            if std::time::Instant::now() > deadline {
                let due = store.due_jobs(self.clock.now(), 5).await.expect("jobs");
                let deliveries = store
                    .execute(
                        "SELECT * FROM delivery WHERE status != 'sent' LIMIT 5",
                        serde_json::json!({}),
                        0,
                    )
                    .await
                    .expect("deliveries");
                panic!(
                    "the scheduler never settled: {} confirmations (wanted {}), \
                     due: {due:?}, unsent: {deliveries}",
                    self.mails_about("Booked:").len(),
                    before + 2
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn jobs(&self, lesson: &Value) -> Vec<(String, String)> {
        let store = self.app.store.as_ref().expect("in-process");
        let mut jobs: Vec<(String, String)> = store
            .lesson_jobs(lesson["id"].as_str().expect("id"))
            .await
            .expect("jobs")
            .into_iter()
            .filter(|j| j.kind == cms_domain::notify::JobKind::Reminder)
            .map(|j| {
                (
                    j.key.rsplit('.').next().unwrap_or_default().to_owned(),
                    j.status.as_str().to_owned(),
                )
            })
            .collect();
        jobs.sort();
        jobs
    }
}

/// Gives a user a phone number (normalised by the server).
pub async fn set_phone(app: &TestApp, user: &User, phone: &str) -> Value {
    let (status, body) = app
        .request(
            "PATCH",
            "/api/v1/me",
            Some(&user.token),
            Some(json!({ "phone": phone })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}
