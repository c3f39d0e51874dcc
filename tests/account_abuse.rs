//! Abuse of the account routes (issue "Hardening"): password guessing is
//! slowed by a doubling wait that time lifts, sign-up is limited per
//! address, weak passwords and look-alike addresses are refused, names stay
//! one line, and a family's children are capped even under racing adds.
//! Every limit here is set small in the test's own config; time moves on
//! the server's manual clock, never by sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use cms_actors::ManualClock;
use cms_server::config::LimitsConfig;
use common::*;
use serde_json::{Value, json};

const T0: &str = "2027-01-11T09:00:00Z";
const GOOD: &str = "tulip umbrella kettle";

async fn app_with(limits: impl FnOnce(&mut LimitsConfig)) -> (TestApp, Arc<ManualClock>) {
    let now = chrono::DateTime::parse_from_rfc3339(T0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(ManualClock::new(now));
    let mut config = test_config();
    config.auth.token_ttl_secs = 366 * 24 * 3600;
    limits(&mut config.limits);
    (spawn_app_on(config, clock.clone()).await, clock)
}

/// A POST that also returns the `Retry-After` header.
async fn post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Option<u64>, Value) {
    post_from(app, LOOPBACK, path, token, body).await
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Another client: the whole of 127/8 reaches the server's 127.0.0.1.
const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// [`post`] from the client address `from`.
async fn post_from(
    app: &TestApp,
    from: IpAddr,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Option<u64>, Value) {
    let client = reqwest::Client::builder()
        .local_address(from)
        .build()
        .unwrap();
    let mut req = client.post(format!("{}{path}", app.base)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry, res.json().await.unwrap_or(Value::Null))
}

async fn login(app: &TestApp, email: &str, password: &str) -> (u16, Option<u64>, Value) {
    post(
        app,
        "/api/v1/auth/login",
        None,
        json!({ "email": email, "password": password }),
    )
    .await
}

async fn register(
    app: &TestApp,
    email: &str,
    password: &str,
    name: &str,
) -> (u16, Option<u64>, Value) {
    post(
        app,
        "/api/v1/auth/register",
        None,
        json!({ "email": email, "password": password, "name": name, "role": "parent" }),
    )
    .await
}

/// Logs in, insisting on success.
async fn login_as(app: &TestApp, email: &str, password: &str) -> User {
    let (status, _, body) = login(app, email, password).await;
    assert_eq!(status, 200, "{body}");
    User {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        token: body["token"].as_str().unwrap().to_owned(),
        family_id: body["user"]["family_id"].as_str().map(str::to_owned),
    }
}

fn assert_throttled(res: &(u16, Option<u64>, Value), wait: u64) {
    assert_eq!(res.0, 429, "{}", res.2);
    assert_eq!(res.1, Some(wait), "Retry-After");
    assert_eq!(res.2["error"], "too_many_requests");
    assert!(
        res.2["message"].as_str().unwrap().contains("wait"),
        "{}",
        res.2
    );
}

#[actix_web::test]
async fn wrong_passwords_bring_a_doubling_wait_that_time_lifts() {
    let (app, clock) = app_with(|l| l.login_failures_before_backoff = 3).await;
    assert_eq!(register(&app, "kim@example.test", GOOD, "Kim").await.0, 201);
    for _ in 0..3 {
        assert_eq!(
            login(&app, "kim@example.test", "not my password").await.0,
            401
        );
    }
    // Inside the wait even the right password is refused, unchecked.
    assert_throttled(&login(&app, "kim@example.test", GOOD).await, 1);
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(login(&app, "kim@example.test", "still wrong!").await.0, 401);
    assert_throttled(&login(&app, "kim@example.test", GOOD).await, 2);
    clock.advance(chrono::Duration::seconds(1));
    assert_throttled(&login(&app, "KIM@example.test", GOOD).await, 1);
    clock.advance(chrono::Duration::seconds(1));
    // Time has lifted it; a success clears the account's count.
    assert_eq!(login(&app, "kim@example.test", GOOD).await.0, 200);
}

#[actix_web::test]
async fn the_wait_is_capped_at_fifteen_minutes_and_a_success_resets_it() {
    let (app, clock) = app_with(|l| l.login_failures_before_backoff = 1).await;
    assert_eq!(register(&app, "lee@example.test", GOOD, "Lee").await.0, 201);
    let mut waits = Vec::new();
    for _ in 0..14 {
        assert_eq!(login(&app, "lee@example.test", "wrong guess").await.0, 401);
        let res = login(&app, "lee@example.test", "wrong guess").await;
        assert_eq!(res.0, 429);
        let wait = res.1.unwrap();
        waits.push(wait);
        clock.advance(chrono::Duration::seconds(wait as i64));
    }
    assert_eq!(&waits[..5], &[1, 2, 4, 8, 16]);
    assert_eq!(*waits.last().unwrap(), 900, "{waits:?}");
    assert_eq!(login(&app, "lee@example.test", GOOD).await.0, 200);
    // The account's count starts again (seen from a fresh client address,
    // since this one keeps its own count): one free failure, then 1 s.
    let from_other = |password: &'static str| {
        let app = &app;
        async move {
            let body = json!({ "email": "lee@example.test", "password": password });
            post_from(app, OTHER_CLIENT, "/api/v1/auth/login", None, body).await
        }
    };
    assert_eq!(from_other("wrong guess").await.0, 401);
    assert_throttled(&from_other(GOOD).await, 1);
    // This client keeps its count: its next failure, even on another
    // account, brings the longest wait.
    assert_eq!(login(&app, "someone@example.test", GOOD).await.0, 401);
    assert_throttled(&login(&app, "someone@example.test", GOOD).await, 900);
}

#[actix_web::test]
async fn unknown_addresses_are_throttled_alike_and_so_is_a_guessing_client() {
    let (app, clock) = app_with(|l| l.login_failures_before_backoff = 2).await;
    // An unknown address answers as a known one would: no existence leak.
    for _ in 0..2 {
        assert_eq!(
            login(&app, "nobody@example.test", "some password").await.0,
            401
        );
    }
    assert_throttled(
        &login(&app, "nobody@example.test", "some password").await,
        1,
    );
    // The same client trying other addresses is held back too.
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        login(&app, "other@example.test", "some password").await.0,
        401
    );
    assert_throttled(&login(&app, "third@example.test", "some password").await, 2);
}

#[actix_web::test]
async fn registration_is_limited_per_address_per_hour() {
    let (app, clock) = app_with(|l| l.register_per_address_per_hour = 2).await;
    assert_eq!(register(&app, "r1@example.test", GOOD, "One").await.0, 201);
    clock.advance(chrono::Duration::minutes(10));
    assert_eq!(register(&app, "r2@example.test", GOOD, "Two").await.0, 201);
    clock.advance(chrono::Duration::minutes(10));
    assert_throttled(
        &register(&app, "r3@example.test", GOOD, "Three").await,
        40 * 60,
    );
    // A second parent is an account too.
    let parent = login_as(&app, "r1@example.test", GOOD).await;
    let (status, retry, _) = post(
        &app,
        "/api/v1/family/parents",
        Some(&parent.token),
        json!({ "email": "r4@example.test", "password": GOOD, "name": "Four" }),
    )
    .await;
    assert_eq!((status, retry), (429, Some(40 * 60)));
    clock.advance(chrono::Duration::minutes(40));
    assert_eq!(
        register(&app, "r3@example.test", GOOD, "Three").await.0,
        201
    );
}

#[actix_web::test]
async fn weak_passwords_are_refused_with_the_reason() {
    let (app, _clock) = app_with(|_| {}).await;
    for (password, words) in [
        ("ninechars", "10 to 1024 characters"),
        ("        ", "10 to 1024 characters"),
        ("password12", "most common"),
        ("Basketball", "most common"),
        ("1qaz2wsx3edc", "most common"),
        ("I am JaneDoe, hello", "email address"),
        ("janedoe@example.test", "email address"),
        ("          ", "repeated"),
    ] {
        let (status, _, body) = register(&app, "JaneDoe@example.test", password, "Jane").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("invalid")),
            "{password:?}: {body}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(words), "{password:?}: {message}");
    }
    // No composition rules: a long plain phrase is fine.
    assert_eq!(
        register(&app, "JaneDoe@example.test", GOOD, "Jane").await.0,
        201
    );
    // A second parent's password is held to the same policy.
    let jane = login_as(&app, "janedoe@example.test", GOOD).await;
    let (status, _, body) = post(
        &app,
        "/api/v1/family/parents",
        Some(&jane.token),
        json!({ "email": "john@example.test", "password": "password12", "name": "John" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

#[actix_web::test]
async fn look_alike_addresses_are_one_account_and_invisible_characters_are_refused() {
    let (app, _clock) = app_with(|_| {}).await;
    assert_eq!(register(&app, "mum@example.test", GOOD, "Mum").await.0, 201);
    for alike in [
        "mum@example.test.",
        " MUM@Example.Test. ",
        // Full-width letters fold to plain ones under NFKC.
        "\u{FF4D}\u{FF55}\u{FF4D}@example.test",
    ] {
        let (status, _, body) = register(&app, alike, GOOD, "Mum again").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (409, Some("conflict")),
            "{alike:?}: {body}"
        );
    }
    for hidden in [
        "mum\u{200B}@example.test",
        "mum@exam\u{00AD}ple.test",
        "\u{FEFF}mum@example.test",
        "mum\u{202E}@example.test",
        "mum@example.test\u{0007}",
    ] {
        let (status, _, body) = register(&app, hidden, GOOD, "Mum again").await;
        assert_eq!(status, 422, "{hidden:?}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("invisible"),
            "{body}"
        );
    }
    // Logins fold the same way.
    assert_eq!(login(&app, "Mum@Example.test.", GOOD).await.0, 200);
    assert_eq!(
        login(&app, "\u{FF4D}\u{FF55}\u{FF4D}@example.test", GOOD)
            .await
            .0,
        200
    );
}

#[actix_web::test]
async fn names_with_line_breaks_or_control_characters_are_refused() {
    let (app, _clock) = app_with(|_| {}).await;
    for bad in [
        "Ann\r\nBcc: all@example.test",
        "Ann\n",
        "Ann\0",
        "Ann\u{2028}Lee",
        "Ann\u{85}",
    ] {
        let (status, _, body) = register(&app, "ann@example.test", GOOD, bad).await;
        assert_eq!(status, 422, "{bad:?}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("control characters"),
            "{body}"
        );
    }
    let (status, _, _) = register(&app, "ann@example.test", GOOD, "Ann").await;
    assert_eq!(status, 201);
    let ann = login_as(&app, "ann@example.test", GOOD).await;
    let (status, body) = app
        .request(
            "PATCH",
            "/api/v1/me",
            Some(&ann.token),
            Some(json!({ "name": "Ann\nLee" })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    for child in [
        json!({ "name": "Sam\r\n", "level": "GCSE" }),
        json!({ "name": "Sam", "level": "GCSE\u{0}" }),
    ] {
        let (status, body) = app.post("/api/v1/students", Some(&ann.token), child).await;
        assert_eq!(status, 422, "{body}");
    }
    let (status, body) = app
        .post(
            "/api/v1/family/parents",
            Some(&ann.token),
            json!({ "email": "bo@example.test", "password": GOOD, "name": "Bo\u{2029}" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    // The catalogue's names are one line too.
    let admin = admin(&app).await;
    let (status, body) = app
        .post(
            "/api/v1/admin/subjects",
            Some(&admin.token),
            json!({ "name": "Maths\nBcc", "level": "GCSE" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    // Nothing refused was stored.
    let (_, me) = app.get("/api/v1/me", Some(&ann.token)).await;
    assert_eq!(me["name"], "Ann");
    let (_, kids) = app.get("/api/v1/students", Some(&ann.token)).await;
    assert_eq!(kids, json!([]));
}

#[actix_web::test]
async fn a_family_has_at_most_the_configured_children() {
    let (app, _clock) = app_with(|l| l.children_per_family = 3).await;
    let parent = app.register("parent", "Pat").await;
    for i in 0..3 {
        let (status, body) = app
            .post(
                "/api/v1/students",
                Some(&parent.token),
                json!({ "name": format!("Kid {i}"), "level": "GCSE" }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = app
        .post(
            "/api/v1/students",
            Some(&parent.token),
            json!({ "name": "Kid 4", "level": "GCSE" }),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("at most 3 children"),
        "{body}"
    );
    // The other parent of the family is held to the same count.
    let second = app.add_parent(&parent, "Sam").await;
    let (status, _) = app
        .post(
            "/api/v1/students",
            Some(&second.token),
            json!({ "name": "Kid 5", "level": "GCSE" }),
        )
        .await;
    assert_eq!(status, 409);
}

#[actix_web::test]
async fn racing_adds_do_not_pass_the_children_cap() {
    let (app, _clock) = app_with(|l| l.children_per_family = 4).await;
    let parent = app.register("parent", "Pat").await;
    let adds = (0..16).map(|i| {
        let (app, token) = (&app, parent.token.clone());
        async move {
            app.post(
                "/api/v1/students",
                Some(&token),
                json!({ "name": format!("Kid {i}"), "level": "GCSE" }),
            )
            .await
            .0
        }
    });
    let statuses = futures_util::future::join_all(adds).await;
    let made = statuses.iter().filter(|s| **s == 201).count();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(made, 4, "{statuses:?}");
    let (_, kids) = app.get("/api/v1/students", Some(&parent.token)).await;
    assert_eq!(kids.as_array().unwrap().len(), 4);
}
