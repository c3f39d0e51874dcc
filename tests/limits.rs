//! The per-family caps of `[limits]` and the paginated conversation list:
//! what a family that keeps going gets, and what a tutor with many families
//! sees.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use common::sched::{book_ok, booking, school, student};
use common::*;
use serde_json::{Value, json};

async fn open(app: &TestApp, parent: &User, tutor: &User, student: Option<&str>) -> (u16, Value) {
    app.post(
        "/api/v1/conversations",
        Some(&parent.token),
        json!({ "tutor_id": tutor.id, "student_id": student }),
    )
    .await
}

#[actix_web::test]
async fn a_family_opens_at_most_the_configured_threads_with_one_tutor() {
    let mut config = test_config();
    config.limits.conversations_per_pair = 2;
    let (app, _clock) = spawn_app_at_with(config, "2027-03-01T09:00:00Z").await;
    let s = school(&app, 3).await;
    assert_eq!(
        open(&app, &s.parent, &s.tutor, Some(&s.kids[0])).await.0,
        201
    );
    assert_eq!(
        open(&app, &s.parent, &s.tutor, Some(&s.kids[1])).await.0,
        201
    );
    let (status, res) = open(&app, &s.parent, &s.tutor, Some(&s.kids[2])).await;
    assert_eq!(status, 409, "{res}");
    assert_eq!(res["error"], "conflict");
    assert!(
        res["message"].as_str().unwrap().contains("2 conversations"),
        "{res}"
    );
    // An existing thread still opens: the cap is on new ones.
    assert_eq!(
        open(&app, &s.parent, &s.tutor, Some(&s.kids[0])).await.0,
        200
    );
    // Another tutor is another pair.
    let admin = &s.admin;
    let other = common::sched::approved_tutor(&app, admin, "Olive Other").await;
    assert_eq!(open(&app, &s.parent, &other, Some(&s.kids[2])).await.0, 201);
}

#[actix_web::test]
async fn concurrent_opens_do_not_pass_the_cap_together() {
    let mut config = test_config();
    config.limits.conversations_per_pair = 3;
    let (app, _clock) = spawn_app_at_with(config, "2027-03-01T09:00:00Z").await;
    let s = school(&app, 8).await;
    let opens = s
        .kids
        .iter()
        .map(|k| open(&app, &s.parent, &s.tutor, Some(k)));
    let statuses: Vec<u16> = futures_util::future::join_all(opens)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        5,
        "{statuses:?}"
    );
}

/// GET with the response's `Link` header.
async fn page(app: &TestApp, user: &User, path: &str) -> (Vec<String>, Option<String>) {
    let res = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let next = res.headers().get("link").map(|l| {
        let l = l.to_str().unwrap();
        assert!(l.ends_with(">; rel=\"next\""), "{l}");
        l.trim_start_matches('<')
            .split_once('>')
            .unwrap()
            .0
            .to_owned()
    });
    let body: Value = res.json().await.unwrap();
    let ids = body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, next)
}

#[actix_web::test]
async fn a_tutor_pages_through_every_family_newest_activity_first() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 0).await;
    // Seven families, each opening a thread a minute after the last.
    let mut threads = Vec::new();
    for i in 0..7 {
        let parent = app.register("parent", &format!("Parent {i}")).await;
        let (status, c) = open(&app, &parent, &s.tutor, None).await;
        assert_eq!(status, 201, "{c}");
        threads.push((parent, c["id"].as_str().unwrap().to_owned()));
        clock.advance(chrono::Duration::minutes(1));
    }
    // The oldest thread gets a message: it has the newest activity now.
    let (first_parent, first) = &threads[0];
    let c = app.joined(first_parent, &topic(first)).await;
    send(&c, &topic(first), "are we still on for Tuesday?").await;

    let mut seen = Vec::new();
    let mut next = Some("/api/v1/conversations?limit=3".to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        let (ids, more) = page(&app, &s.tutor, &path).await;
        assert!(ids.len() <= 3, "{ids:?}");
        seen.extend(ids);
        next = more;
        pages += 1;
    }
    assert_eq!(pages, 3);
    let mut expected = vec![first.clone()];
    expected.extend(threads[1..].iter().rev().map(|(_, id)| id.clone()));
    assert_eq!(seen, expected, "newest activity first, each thread once");

    // Past 500 nothing vanishes either: the default page is 50 and the
    // cursor, not an offset, carries on. A bad limit or cursor is a 422.
    for bad in ["limit=0", "limit=101", "cursor=abc", "cursor=1.a%3Ab"] {
        let (status, res) = app
            .get(
                &format!("/api/v1/conversations?{bad}"),
                Some(&s.tutor.token),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {res}");
    }
}

#[actix_web::test]
async fn a_family_makes_at_most_the_configured_booking_requests_a_day() {
    let mut config = test_config();
    config.limits.bookings_per_family_per_day = 3;
    let (app, clock) = spawn_app_at_with(config, "2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-08T16:00"),
    )
    .await;
    // A refused request counts too: the cap is on asking.
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            Some(&s.parent.token),
            booking(&s.tutor, &[kid], "2027-03-08T16:00"),
        )
        .await;
    assert_eq!(status, 409);
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-09T16:00"),
    )
    .await;

    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/bookings", app.base))
        .bearer_auth(&s.parent.token)
        .json(&booking(&s.tutor, &[kid], "2027-03-10T16:00"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // 09:00 UTC: the day ends in 15 hours.
    assert_eq!(res.headers()["retry-after"], "54000");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests", "{body}");

    // Another family is not held back, and the next day is a new day.
    let other = app.register("parent", "Other Parent").await;
    let other_kid = student(&app, &other, "Other Kid").await;
    book_ok(
        &app,
        &other,
        booking(&s.tutor, &[&other_kid], "2027-03-10T17:00"),
    )
    .await;
    clock.advance(chrono::Duration::hours(15));
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-11T16:00"),
    )
    .await;
}
