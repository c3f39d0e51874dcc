//! Hostile text. Names holding line breaks, NUL, U+2028, quotes and commas
//! (stored before entry refused them, so written here straight into the
//! store) reach every renderer — mail headers, SMS, iCalendar, in-app
//! pushes — as plain one-line text, and never stop notifications for the
//! families after them. Also: the calendar feed's URL comes from
//! `public_url` whatever Host a client sends, its token never reaches the
//! access log, and `/readyz` reports a scheduler that has stopped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::notify::{Rig, WAIT, parse, rig, set_phone};
use common::sched::{book_ok, booking, school, student};
use common::{TestApp, User, spawn_app, spawn_app_with, test_config};
use serde_json::{Value, json};

/// Each becomes one family's parent and child name.
const HOSTILE: &[&str] = &[
    "Ann\r\nBcc: victim@example.org",
    "Ann\rSUMMARY:Free lesson",
    "Ann\0Nul",
    "Ann\u{2028}Line",
    "\"Ann\" <ann@evil.example>, O'Brien; Jo",
];

/// The tutor every family books, named as badly as possible.
const TUTOR: &str = "Tom\r\nX-Injected: 1\r\n\rTutor, \"T\"; \0\u{2028}";

/// The longest name the store holds (200 characters).
fn long_name() -> String {
    format!("Long{}", "n".repeat(196))
}

/// A name as a reader should see it: every control character or line
/// separator a single space between the words.
fn plain(name: &str) -> String {
    name.split(|c: char| c.is_control() || c == '\u{2028}')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Enough of a name to recognise it (long ones are shortened in texts).
fn start_of(name: &str) -> String {
    plain(name).chars().take(40).collect()
}

fn no_control(what: &str, s: &str) {
    assert!(
        !s.chars().any(|c| c.is_control() || c == '\u{2028}'),
        "{what} holds a control character or line separator: {s:?}"
    );
}

/// Writes a name where the API would now refuse it.
async fn rename(app: &TestApp, table: &str, id: &str, name: &str) {
    app.store
        .as_ref()
        .expect("in-process")
        .execute(
            "UPDATE type::record($table, $id) SET name = $name RETURN NONE",
            json!({ "table": table, "id": id, "name": name }),
            0,
        )
        .await
        .expect("renamed in the store");
}

async fn email_of(app: &TestApp, user: &User) -> String {
    let v = app
        .store
        .as_ref()
        .expect("in-process")
        .execute(
            "SELECT VALUE email FROM type::record('user', $id)",
            json!({ "id": user.id }),
            0,
        )
        .await
        .expect("email");
    let v = if v.is_array() { v[0].clone() } else { v };
    v.as_str().expect("an address").to_owned()
}

struct Family {
    name: String,
    parent: User,
    kid: String,
    email: String,
    phone: String,
}

/// A family whose parent and child carry `name`, with booking notices on
/// by email and SMS, so the name reaches every channel.
async fn family(r: &Rig, i: usize, name: &str) -> Family {
    let parent = r.app.register("parent", &format!("Parent {i}")).await;
    let kid = student(&r.app, &parent, &format!("Kid {i}")).await;
    let phone = format!("+4474001234{i:02}");
    set_phone(&r.app, &parent, &phone).await;
    let all = json!({ "reminder": true, "booked": true, "cancelled": true, "rescheduled": true });
    let (status, body) = r
        .app
        .put(
            "/api/v1/me/notifications",
            Some(&parent.token),
            json!({ "email": all, "sms": all }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    rename(&r.app, "user", &parent.id, name).await;
    rename(&r.app, "student", &kid, name).await;
    Family {
        name: name.to_owned(),
        email: email_of(&r.app, &parent).await,
        parent,
        kid,
        phone,
    }
}

/// The raw header block: CRLF lines only, each a `Name: value` header or
/// a folded continuation, so no value started a header of its own.
fn check_headers(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap();
    let mut names = Vec::new();
    for line in head.split("\r\n") {
        no_control("a header line", line);
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let (name, _) = line.split_once(": ").expect("a header line");
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{line:?}"
        );
        names.push(name.to_ascii_lowercase());
    }
    for once in ["to", "subject", "from"] {
        assert_eq!(names.iter().filter(|n| *n == once).count(), 1, "{names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n == "bcc" || n.starts_with("x-injected")),
        "a name added a header: {names:?}"
    );
    names
}

/// An iCalendar text as RFC 5545 wants it: CRLF lines of at most 75
/// octets, no control character, and the properties we wrote — one NAME,
/// one SUMMARY per event, nothing a name added.
fn check_ics(text: &str) {
    assert!(text.ends_with("\r\n"), "{text}");
    let mut lines: Vec<String> = Vec::new();
    for line in text.trim_end_matches("\r\n").split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        no_control("an iCalendar line", line);
        match line.strip_prefix(' ') {
            Some(more) => lines.last_mut().unwrap().push_str(more),
            None => lines.push(line.to_owned()),
        }
    }
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split([':', ';']).next().unwrap())
        .collect();
    let count = |n: &str| names.iter().filter(|x| **x == n).count();
    let events = lines.iter().filter(|l| *l == "BEGIN:VEVENT").count();
    assert_eq!(count("NAME"), 1, "{text}");
    assert_eq!(count("SUMMARY"), events, "{text}");
    assert_eq!(count("DESCRIPTION"), events, "{text}");
    for n in &names {
        assert!(
            [
                "BEGIN",
                "END",
                "VERSION",
                "PRODID",
                "CALSCALE",
                "METHOD",
                "NAME",
                "X-WR-CALNAME",
                "TZID",
                "DTSTART",
                "TZOFFSETFROM",
                "TZOFFSETTO",
                "TZNAME",
                "UID",
                "DTSTAMP",
                "LAST-MODIFIED",
                "SEQUENCE",
                "DTEND",
                "SUMMARY",
                "DESCRIPTION",
                "STATUS",
            ]
            .contains(n),
            "an unexpected property {n:?} in {text}"
        );
    }
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let cal = parser.next().expect("a calendar").expect("it parses");
    assert_eq!(cal.events.len(), events);
}

#[actix_web::test]
async fn hostile_names_reach_every_channel_as_plain_text_and_later_families_still_hear() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 0).await;
    rename(&r.app, "user", &s.tutor.id, TUTOR).await;
    let long = long_name();
    let names: Vec<&str> = HOSTILE.iter().copied().chain([long.as_str()]).collect();
    let mut families = Vec::new();
    for (i, name) in names.iter().enumerate() {
        families.push(family(&r, i, name).await);
    }
    let mut sockets = Vec::new();
    for (i, f) in families.iter().enumerate() {
        let topic = format!("user:{}", f.parent.id);
        sockets.push((topic.clone(), r.app.joined(&f.parent, &topic).await));
        book_ok(
            &r.app,
            &f.parent,
            booking(&s.tutor, &[&f.kid], &format!("2027-03-{:02}T16:00", 10 + i)),
        )
        .await;
    }
    // A family with ordinary names, after them all.
    let later = r.app.register("parent", "Lara Later").await;
    let later_kid = student(&r.app, &later, "Leo Later").await;
    let later_email = email_of(&r.app, &later).await;
    book_ok(
        &r.app,
        &later,
        booking(&s.tutor, &[&later_kid], "2027-03-25T16:00"),
    )
    .await;

    // Each booking: the parent and the tutor.
    let want = 2 * (families.len() + 1);
    let got = r.smtp.wait_for(want, WAIT).await;
    let to_later = got.iter().filter(|m| m.to.contains(&later_email)).count();
    assert_eq!(
        to_later,
        1,
        "the later family's confirmation: {} of {want} mails arrived",
        got.len()
    );

    for f in &families {
        let what = format!("{:?}", f.name);
        let raw = got
            .iter()
            .find(|m| m.to.contains(&f.email))
            .unwrap_or_else(|| panic!("no mail for {what}"));
        check_headers(&raw.data);
        let message = mail_parser::MessageParser::default()
            .parse(&raw.data)
            .unwrap();
        let to = message.to().expect("a To header");
        assert_eq!(to.iter().count(), 1, "{what}: one recipient");
        let to = to.first().unwrap();
        assert_eq!(to.address(), Some(f.email.as_str()), "{what}");
        let shown = to.name().unwrap_or_default();
        no_control("the To name", shown);
        assert!(shown.starts_with(&start_of(&f.name)), "{what}: {shown:?}");
        let mail = parse(raw);
        assert!(mail.subject.starts_with("Booked:"), "{}", mail.subject);
        no_control("the subject", &mail.subject);
        assert!(
            mail.subject.contains(&start_of(&f.name)),
            "{}",
            mail.subject
        );
        assert!(
            mail.text.contains(&format!("Hello {}", start_of(&f.name))),
            "{what}: {}",
            mail.text
        );
        assert_eq!(mail.calendars.len(), 1, "{what}");
        check_ics(&mail.calendars[0].1);

        let texts = r.twilio.sent();
        let sms = texts
            .iter()
            .find(|t| t.field("To") == Some(f.phone.as_str()))
            .unwrap_or_else(|| panic!("no SMS for {what}"));
        let body = sms.field("Body").unwrap();
        no_control("the SMS", body);
        assert!(body.contains(&start_of(&f.name)), "{what}: {body}");
        assert!(body.contains(&plain(TUTOR)), "{body}");
    }
    for ((topic, sock), f) in sockets.iter().zip(&families) {
        let pushed = sock
            .next_event_named(topic, "notification", WAIT)
            .await
            .expect("pushed")
            .payload;
        let text = pushed["text"].as_str().unwrap();
        no_control("the in-app notification", text);
        assert!(text.contains(&start_of(&f.name)), "{text}");
    }

    // The subscribed feed of a hostile family, with the hostile tutor.
    let f = &families[0];
    let (status, link) = r
        .app
        .get("/api/v1/me/calendar-feed", Some(&f.parent.token))
        .await;
    assert_eq!(status, 200, "{link}");
    let feed = reqwest::get(format!("{}{}", r.app.base, link["path"].as_str().unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    check_ics(&feed);
    assert!(feed.contains("BEGIN:VEVENT"), "{feed}");
}

/// A GET with extra headers; the JSON answer.
async fn get_with(app: &TestApp, path: &str, token: &str, header: (&str, &str)) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

const SPOOFED: &[(&str, &str)] = &[
    ("Host", "evil.example"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Proto", "javascript"),
    ("Forwarded", "host=evil.example;proto=https"),
];

#[actix_web::test]
async fn the_feed_url_starts_with_public_url_whatever_host_is_sent() {
    let mut config = test_config();
    config.public_url = Some("https://lessons.example.org/".into());
    let app = spawn_app_with(config).await;
    let parent = app.register("parent", "Pat Parent").await;
    for header in SPOOFED {
        let link = get_with(&app, "/api/v1/me/calendar-feed", &parent.token, *header).await;
        let path = link["path"].as_str().unwrap();
        assert_eq!(
            link["url"],
            format!("https://lessons.example.org{path}"),
            "{header:?}"
        );
    }

    // Unset: the address the server listens on.
    let app = spawn_app().await;
    let parent = app.register("parent", "Pat Parent").await;
    for header in SPOOFED {
        let link = get_with(&app, "/api/v1/me/calendar-feed", &parent.token, *header).await;
        let path = link["path"].as_str().unwrap();
        assert_eq!(
            link["url"],
            format!("http://127.0.0.1:{}{path}", app.port),
            "{header:?}"
        );
    }
}

/// Everything this test binary logs, from the first call on.
fn captured() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init()
            .expect("the only subscriber in this binary");
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn the_access_log_holds_no_feed_token_and_no_socket_token() {
    let log = captured();
    let app = spawn_app().await;
    let parent = app.register("parent", "Pat Parent").await;
    let (_, link) = app
        .get("/api/v1/me/calendar-feed", Some(&parent.token))
        .await;
    let path = link["path"].as_str().unwrap().to_owned();
    let token = path
        .trim_start_matches("/calendar/")
        .trim_end_matches(".ics")
        .to_owned();
    let resp = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    // The socket's query string carries the bearer token.
    let socket = app.connect(&parent).await;
    drop(socket);

    // The line is written when the response ends, after the client has it.
    let deadline = std::time::Instant::now() + WAIT;
    let text = loop {
        let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        if text.contains("GET /calendar/") {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no access-log line for the feed:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(!text.contains(&token), "the feed token was logged:\n{text}");
    assert!(
        text.contains("GET /calendar/<redacted>.ics 200"),
        "the feed's line, redacted:\n{text}"
    );
    assert!(
        !text.contains(&parent.token),
        "a socket token was logged:\n{text}"
    );
    assert!(
        !text.contains("token="),
        "a query string was logged:\n{text}"
    );
}

#[actix_web::test]
async fn readyz_fails_once_the_scheduler_has_stopped() {
    let built = cms_server::startup::Application::build_with_clock(
        test_config(),
        Arc::new(cms_actors::SystemClock),
    )
    .await
    .unwrap();
    let scheduler = built.notifier();
    let app = common::serve(built);
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, 200, "{body}");

    scheduler.stop();
    let deadline = std::time::Instant::now() + WAIT;
    let body = loop {
        let (status, body) = app.get("/readyz", None).await;
        if status == 503 {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {status} {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(body["error"], "unavailable", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("scheduler"),
        "{body}"
    );
    assert!(!scheduler.is_running());
}
