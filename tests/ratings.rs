//! Ratings on the real server: a parent rates a completed lesson once for
//! their family; nobody else rates it, nothing else is rated; the tutor's
//! average shows in search and on the profile; a low rating reaches the
//! admins' board as it is given and stays on their list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Utc};
use common::sched::{book_ok, booking, hold, school, student};
use common::{TestApp, User, WAIT, spawn_app_at};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn id(lesson: &Value) -> &str {
    lesson["id"].as_str().unwrap()
}

async fn rate(app: &TestApp, who: &User, lesson: &Value, body: Value) -> (u16, Value) {
    let path = format!("/api/v1/lessons/{}/rating", id(lesson));
    app.post(&path, Some(&who.token), body).await
}

/// Starts and ends the lesson as its tutor, every child present.
async fn complete(app: &TestApp, tutor: &User, lesson: &Value) {
    let kids: Vec<&str> = lesson["students"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    hold(app, tutor, id(lesson), &kids).await;
}

/// The tutor as a search for GCSE Maths finds them.
async fn in_search(app: &TestApp, who: &User, tutor: &User) -> Value {
    let (status, body) = app
        .get(
            "/api/v1/tutors?subject=Maths&level=GCSE&from=2027-03-20&to=2027-03-21",
            Some(&who.token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tutor.id.as_str())
        .cloned()
        .expect("the tutor is found")
}

#[actix_web::test]
async fn a_parent_rates_a_completed_lesson_once_and_the_average_shows() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let first = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
    let second = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-11T16:00"),
    )
    .await;
    let other_parent = app.register("parent", "Olive Other").await;
    student(&app, &other_parent, "Otto").await;

    let (status, body) = rate(&app, &s.parent, &first, json!({ "stars": 5 })).await;
    assert_eq!(status, 409, "not held yet: {body}");
    assert_eq!(body["error"], "conflict");
    let fresh = in_search(&app, &s.parent, &s.tutor).await;
    assert_eq!(
        fresh["rating"],
        json!({ "count": 0 }),
        "no ratings, no average"
    );

    clock.set(at("2027-03-10T16:00:00Z"));
    complete(&app, &s.tutor, &first).await;

    for (who, expected) in [(&s.tutor, 403), (&s.admin, 403), (&other_parent, 404)] {
        let (status, body) = rate(&app, who, &first, json!({ "stars": 5 })).await;
        assert_eq!(status, expected, "{body}");
    }
    for bad in [
        json!({ "stars": 0 }),
        json!({ "stars": 6 }),
        json!({ "stars": 4.5 }),
        json!({ "stars": 5, "comment": "x".repeat(1001) }),
        json!({ "stars": 5, "tip": 100 }),
    ] {
        let (status, body) = rate(&app, &s.parent, &first, bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }

    let (status, rated) = rate(
        &app,
        &s.parent,
        &first,
        json!({ "stars": 5.0, "comment": "  Clear and patient.  " }),
    )
    .await;
    assert_eq!(status, 201, "{rated}");
    assert_eq!(
        (
            &rated["stars"],
            &rated["comment"],
            &rated["by_name"],
            &rated["tutor_id"]
        ),
        (
            &json!(5),
            &json!("Clear and patient."),
            &json!("Pat Parent"),
            &json!(s.tutor.id)
        )
    );
    let (status, again) = rate(&app, &s.parent, &first, json!({ "stars": 1 })).await;
    assert_eq!(status, 409, "once per family: {again}");
    let (status, mine) = app
        .get(
            &format!("/api/v1/lessons/{}/rating", id(&first)),
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(
        (status, &mine),
        (200, &rated),
        "the rating as given, not the second"
    );

    clock.set(at("2027-03-11T16:00:00Z"));
    complete(&app, &s.tutor, &second).await;
    let (status, _) = rate(&app, &s.parent, &second, json!({ "stars": 4 })).await;
    assert_eq!(status, 201);

    // (5 + 4) / 2, in search and on the profile, for parents and admins.
    let hit = in_search(&app, &other_parent, &s.tutor).await;
    assert_eq!(hit["rating"], json!({ "count": 2, "average": 4.5 }));
    let (status, profile) = app
        .get(
            &format!("/api/v1/tutors/{}", s.tutor.id),
            Some(&s.admin.token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(profile["rating"], json!({ "count": 2, "average": 4.5 }));
    let (status, list) = app
        .get(
            &format!("/api/v1/tutors/{}/ratings", s.tutor.id),
            Some(&other_parent.token),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let stars: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["stars"].clone())
        .collect();
    assert_eq!(stars, [json!(4), json!(5)], "newest first");
}

#[actix_web::test]
async fn a_low_rating_alerts_the_admins_as_it_is_given() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
    clock.set(at("2027-03-10T16:00:00Z"));
    complete(&app, &s.tutor, &lesson).await;
    let board = app.joined(&s.admin, "admin:monitor").await;

    let (status, body) = rate(
        &app,
        &s.parent,
        &lesson,
        json!({ "stars": 2, "comment": "Arrived late and\nrushed." }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let alert = loop {
        let f = board
            .next_event_named("admin:monitor", "board:alert", WAIT)
            .await
            .expect("a board:alert");
        if f.payload["kind"] == "low_rating" {
            break f.payload;
        }
    };
    assert_eq!(alert["lesson_id"], id(&lesson));
    let message = alert["message"].as_str().unwrap();
    assert!(
        message.contains("Pat Parent")
            && message.contains("2 stars")
            && message.contains("Tom Tutor"),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");

    let (status, low) = app.get("/api/v1/admin/ratings", Some(&s.admin.token)).await;
    assert_eq!(status, 200, "{low}");
    assert_eq!(low.as_array().unwrap().len(), 1);
    assert_eq!(low[0]["lesson_id"], id(&lesson));
    let (status, _) = app
        .get("/api/v1/admin/ratings", Some(&s.parent.token))
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .get("/api/v1/admin/ratings?limit=0", Some(&s.admin.token))
        .await;
    assert_eq!(status, 422);
}
