//! A lesson as it happens, on the real server with time from an injected
//! clock: the start window at its exact bounds, who may start and end,
//! two racing starts, attendance and the chargeable absent seat, the log,
//! and what a live lesson still holds (its time, its place on calendars)
//! and no longer allows (cancelling, moving).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Utc};
use common::sched::{book_ok, booking, cancel, school};
use common::{TestApp, User, WAIT, spawn_app_at};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn id(lesson: &Value) -> &str {
    lesson["id"].as_str().unwrap()
}

async fn start(app: &TestApp, who: &User, lesson: &Value) -> (u16, Value) {
    let path = format!("/api/v1/lessons/{}/start", id(lesson));
    app.post(&path, Some(&who.token), json!({})).await
}

async fn end(app: &TestApp, who: &User, lesson: &Value, body: Value) -> (u16, Value) {
    let path = format!("/api/v1/lessons/{}/end", id(lesson));
    app.post(&path, Some(&who.token), body).await
}

async fn event_kinds(app: &TestApp, who: &User, lesson: &Value) -> Vec<String> {
    let path = format!("/api/v1/lessons/{}/events", id(lesson));
    let (status, body) = app.get(&path, Some(&who.token)).await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// The occurrence as `who`'s calendar for March shows it.
async fn on_calendar(app: &TestApp, who: &User, lesson: &Value) -> Value {
    let (status, body) = app
        .get(
            "/api/v1/calendar?from=2027-03-01&to=2027-04-01",
            Some(&who.token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == lesson["id"])
        .cloned()
        .expect("the lesson is on the calendar")
}

#[actix_web::test]
async fn the_tutor_starts_from_the_room_opening_until_the_no_show_bound() {
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
        booking(&s.tutor, &[kid], "2027-03-10T18:00"),
    )
    .await;
    let third = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T20:00"),
    )
    .await;

    // One second before the room opens (10 minutes before the start).
    clock.set(at("2027-03-10T15:49:59Z"));
    let (status, body) = start(&app, &s.tutor, &first).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("room opens at 2027-03-10T15:50:00Z"),
        "{body}"
    );

    clock.set(at("2027-03-10T15:50:00Z"));
    let (status, live) = start(&app, &s.tutor, &first).await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["status"], "live");
    assert_eq!(live["started_at"], "2027-03-10T15:50:00Z");
    assert!(live.get("ended_at").is_none() && live.get("attendance").is_none());
    let (status, body) = start(&app, &s.tutor, &first).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (409, Some("this lesson has already started"))
    );

    // The no-show bound (15 minutes after the start) is already too late
    // (the lesson timers may have marked the no-show first); a second
    // before it is not.
    clock.set(at("2027-03-10T18:15:00Z"));
    let (status, body) = start(&app, &s.tutor, &second).await;
    assert_eq!(status, 409, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("too late") || message.contains("tutor_no_show"),
        "{body}"
    );
    clock.set(at("2027-03-10T20:14:59Z"));
    let (status, body) = start(&app, &s.admin, &third).await;
    assert_eq!(status, 200, "an admin starts it too: {body}");
}

#[actix_web::test]
async fn parents_never_start_or_end_and_strangers_see_nothing() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
    )
    .await;
    // Before the room opens, so the lesson timers leave it alone too.
    clock.set(at("2027-03-10T15:49:00Z"));
    let attendance = json!({
        "attendance": [{ "student_id": s.kids[0], "status": "present" }], "notes": ""
    });

    let (status, body) = start(&app, &s.parent, &lesson).await;
    assert_eq!(
        (status, &body["error"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    let (status, _) = end(&app, &s.parent, &lesson, attendance.clone()).await;
    assert_eq!(status, 403);

    // Another tutor's lesson answers exactly as a missing one.
    let admin = s.admin.clone();
    let other = common::sched::approved_tutor(&app, &admin, "Other Tutor").await;
    let (status, stranger) = start(&app, &other, &lesson).await;
    let (_, missing) = start(&app, &other, &json!({ "id": "nosuchlesson" })).await;
    assert_eq!(status, 404);
    assert_eq!(stranger, missing);
    let path = format!("/api/v1/lessons/{}/events", id(&lesson));
    let outsider = app.register("parent", "Outsider").await;
    assert_eq!(app.get(&path, Some(&outsider.token)).await.0, 404);
    assert_eq!(app.get(&path, Some(&other.token)).await.0, 404);

    // Nothing happened: still booked, nothing logged.
    assert_eq!(
        on_calendar(&app, &s.parent, &lesson).await["status"],
        "booked"
    );
    assert!(event_kinds(&app, &s.parent, &lesson).await.is_empty());
}

#[actix_web::test]
async fn of_two_concurrent_starts_exactly_one_wins() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
    )
    .await;
    clock.set(at("2027-03-10T15:58:00Z"));
    let (a, b) = tokio::join!(
        start(&app, &s.tutor, &lesson),
        start(&app, &s.admin, &lesson)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    // The lesson timers may have opened the room first; started once.
    let kinds = event_kinds(&app, &s.tutor, &lesson).await;
    let started: Vec<&String> = kinds.iter().filter(|k| *k != "opened").collect();
    assert_eq!(started, ["started"], "{kinds:?}");
}

#[actix_web::test]
async fn ending_records_attendance_and_charges_the_absent_seat() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 2).await;
    let kids = [s.kids[0].as_str(), s.kids[1].as_str()];
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &kids, "2027-03-10T16:00"),
    )
    .await;
    let tutor_topic = format!("tutor:{}", s.tutor.id);
    let watcher = app.joined(&s.tutor, &tutor_topic).await;

    clock.set(at("2027-03-10T16:00:00Z"));
    // The lesson timers open the room first.
    loop {
        let f = watcher
            .next_event_named(&tutor_topic, "calendar:changed", WAIT)
            .await
            .unwrap();
        if f.payload["change"] == "opened" {
            break;
        }
    }
    let marks = json!({
        "attendance": [
            { "student_id": kids[0], "status": "present" },
            { "student_id": kids[1], "status": "absent" },
        ],
        "notes": "Fractions: adding with unlike denominators.",
        "homework_hint": "Exercise 4B"
    });
    let (status, body) = end(&app, &s.tutor, &lesson, marks.clone()).await;
    assert_eq!(status, 409, "a booked lesson cannot end: {body}");

    let (status, _) = start(&app, &s.tutor, &lesson).await;
    assert_eq!(status, 200);
    // A live lesson shows as such, pushed and on every calendar.
    let pushed = loop {
        let f = watcher
            .next_event_named(&tutor_topic, "calendar:changed", WAIT)
            .await
            .unwrap();
        if f.payload["change"] == "started" {
            break f.payload["occurrence"].clone();
        }
    };
    assert_eq!(pushed["status"], "live");
    for who in [&s.parent, &s.tutor, &s.admin] {
        assert_eq!(on_calendar(&app, who, &lesson).await["status"], "live");
    }

    // Every student exactly once, nobody else.
    for attendance in [
        json!([{ "student_id": kids[0], "status": "present" }]),
        json!([
            { "student_id": kids[0], "status": "present" },
            { "student_id": kids[0], "status": "late" },
            { "student_id": kids[1], "status": "absent" },
        ]),
    ] {
        let (status, body) = end(
            &app,
            &s.tutor,
            &lesson,
            json!({ "attendance": attendance, "notes": "" }),
        )
        .await;
        assert_eq!(status, 422, "{body}");
    }
    let (status, body) = end(
        &app,
        &s.tutor,
        &lesson,
        json!({ "attendance": marks["attendance"], "notes": "x".repeat(4001) }),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    clock.set(at("2027-03-10T16:58:00Z"));
    let (status, done) = end(&app, &s.tutor, &lesson, marks.clone()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["ended_at"], "2027-03-10T16:58:00Z");
    let seats = done["attendance"].as_array().unwrap();
    assert_eq!(seats.len(), 2);
    for seat in seats {
        let absent = seat["student_id"] == kids[1];
        assert_eq!(seat["status"], if absent { "absent" } else { "present" });
        assert_eq!(
            seat["chargeable"], absent,
            "only the absent seat is charged"
        );
    }
    let (status, _) = end(&app, &s.admin, &lesson, marks).await;
    assert_eq!(status, 409, "ended once");

    // The parent reads the log, oldest first, and sees the lesson completed.
    assert_eq!(
        event_kinds(&app, &s.parent, &lesson).await,
        ["opened", "started", "ended"]
    );
    let shown = on_calendar(&app, &s.parent, &lesson).await;
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["attendance"], done["attendance"]);
}

#[actix_web::test]
async fn a_live_lesson_holds_its_time_and_cannot_be_cancelled_or_moved() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 2).await;
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
    )
    .await;
    // Started before its start time: the status, not the clock, refuses.
    clock.set(at("2027-03-10T15:55:00Z"));
    assert_eq!(start(&app, &s.tutor, &lesson).await.0, 200);

    for who in [&s.parent, &s.tutor, &s.admin] {
        let (status, body) = cancel(&app, who, &lesson, json!({ "reason": "ill" })).await;
        assert_eq!(status, 409, "{body}");
        let path = format!("/api/v1/lessons/{}/reschedule", id(&lesson));
        let (status, body) = app
            .post(
                &path,
                Some(&who.token),
                json!({ "start": "2027-03-20T16:00", "reason": "ill" }),
            )
            .await;
        assert_eq!(status, 409, "{body}");
    }

    // Its time stays held: the tutor cannot be booked over it.
    let (status, body) = app
        .post(
            "/api/v1/bookings",
            Some(&s.admin.token),
            booking(&s.tutor, &[&s.kids[1]], "2027-03-10T16:30"),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["clashes"][0]["reason"], "tutor_busy", "{body}");
    assert_eq!(on_calendar(&app, &s.tutor, &lesson).await["status"], "live");
}
