//! The lesson timers on the real server, with time from an injected clock:
//! the room opening ten minutes before, `lesson:late` once at five minutes
//! past to the families, the tutor and the admins' board, the tutor's
//! no-show at fifteen (makeup credits, a notice, an alert), a forgotten
//! lesson ended at thirty past its end for review, and restarts on the
//! same store that neither lose a step nor repeat one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Utc};
use cms_loadtest::PhxClient;
use cms_protocol::Frame;
use common::restart::run;
use common::sched::{book_ok, booking, school};
use common::{TestApp, User, WAIT, spawn_app_at, test_config};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn id(lesson: &Value) -> &str {
    lesson["id"].as_str().unwrap()
}

async fn event_kinds(app: &TestApp, who: &User, lesson: &str) -> Vec<String> {
    let (status, body) = app
        .get(
            &format!("/api/v1/lessons/{lesson}/events"),
            Some(&who.token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Who entered or left a room is logged too; these tests follow the
    // timers' steps.
    body.as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .filter(|k| k != "joined" && k != "left")
        .collect()
}

/// Waits (in real time, while the server works) until the lesson's log
/// reads `want`.
async fn until_events(app: &TestApp, who: &User, lesson: &str, want: &[&str]) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let got = event_kinds(app, who, lesson).await;
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log reads {got:?}, wanted {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The lesson as the store holds it now: status, `needs_review`, seats.
async fn stored(app: &TestApp, lesson: &str) -> Value {
    app.store
        .as_ref()
        .unwrap()
        .execute(
            "SELECT status, needs_review, late_at != NONE AS late_said,
                 array::map(attendance, |$a| [$a.status, $a.chargeable]) AS seats
             FROM ONLY type::record('lesson', $id)",
            json!({ "id": lesson }),
            0,
        )
        .await
        .unwrap()
}

/// A point after which the timers have looked at the clock's time: books a
/// far-off lesson (which wakes the scheduler, whose round runs the timers
/// before the notices) and waits for its booking notice.
async fn settle(app: &TestApp, parent: &User, tutor: &User, kid: &str, day: &str) {
    let far = book_ok(app, parent, booking(tutor, &[kid], &format!("{day}T09:00"))).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, list) = app.get("/api/v1/notifications", Some(&parent.token)).await;
        assert_eq!(status, 200, "{list}");
        if list
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["occurrence_id"] == far["id"])
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "never settled");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Every frame on `topic` up to and including the first `event` that
/// `is_it` accepts.
async fn frames_until(
    c: &PhxClient,
    topic: &str,
    event: &str,
    is_it: impl Fn(&Value) -> bool,
) -> Vec<Frame> {
    let mut seen = Vec::new();
    loop {
        let f = c
            .next_event(WAIT)
            .await
            .unwrap_or_else(|e| panic!("waiting for {event} on {topic}: {e:?}; saw {seen:?}"));
        if f.topic != topic {
            continue;
        }
        let done = f.event == event && is_it(&f.payload);
        seen.push(f);
        if done {
            return seen;
        }
    }
}

fn count(frames: &[Frame], event: &str) -> usize {
    frames.iter().filter(|f| f.event == event).count()
}

#[actix_web::test]
async fn the_room_opens_late_is_said_once_and_a_no_show_gives_credits_and_a_notice() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 3).await;
    let kids = [s.kids[0].as_str(), s.kids[1].as_str()];
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &kids, "2027-03-10T16:00"),
    )
    .await;
    let l = id(&lesson);
    let family = format!("family:{}", s.parent.family_id.as_deref().unwrap());
    let tutor_topic = format!("tutor:{}", s.tutor.id);
    let parent_socket = app.joined(&s.parent, &family).await;
    let tutor_socket = app.joined(&s.tutor, &tutor_topic).await;
    let board = app.joined(&s.admin, "admin:monitor").await;

    // A second before the room opens: nothing.
    clock.set(at("2027-03-10T15:49:59Z"));
    settle(&app, &s.parent, &s.tutor, &s.kids[2], "2028-01-10").await;
    assert_eq!(stored(&app, l).await["status"], "booked");
    assert!(event_kinds(&app, &s.parent, l).await.is_empty());

    // Ten minutes before: open, and calendars hear of it.
    clock.set(at("2027-03-10T15:50:00Z"));
    let seen = frames_until(&parent_socket, &family, "calendar:changed", |p| {
        p["change"] == "opened"
    })
    .await;
    let opened = &seen.last().unwrap().payload["occurrence"];
    assert_eq!(
        (opened["id"].as_str(), &opened["status"]),
        (Some(l), &json!("open"))
    );
    until_events(&app, &s.parent, l, &["opened"]).await;

    // Five minutes past with nobody started: late, to everyone concerned.
    clock.set(at("2027-03-10T16:05:00Z"));
    for (c, topic) in [
        (&parent_socket, family.as_str()),
        (&tutor_socket, tutor_topic.as_str()),
        (&board, "admin:monitor"),
    ] {
        let seen = frames_until(c, topic, "lesson:late", |_| true).await;
        let f = seen.last().unwrap();
        assert_eq!(
            f.payload,
            json!({ "lesson_id": l, "minutes_late": 5 }),
            "{topic}"
        );
    }
    let alert = frames_until(&board, "admin:monitor", "board:alert", |_| true).await;
    let alert = &alert.last().unwrap().payload;
    assert_eq!(
        (&alert["kind"], alert["lesson_id"].as_str(), &alert["at"]),
        (&json!("late"), Some(l), &json!("2027-03-10T16:05:00Z"))
    );
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("GCSE Maths with Tom Tutor"),
        "{alert}"
    );
    until_events(&app, &s.parent, l, &["opened", "late"]).await;

    // Later wakes do not say it again.
    clock.set(at("2027-03-10T16:10:00Z"));
    settle(&app, &s.parent, &s.tutor, &s.kids[2], "2028-01-11").await;

    // Fifteen minutes past: the tutor did not show.
    clock.set(at("2027-03-10T16:15:00Z"));
    let to_family = frames_until(&parent_socket, &family, "calendar:changed", |p| {
        p["change"] == "no_show"
    })
    .await;
    let to_tutor = frames_until(&tutor_socket, &tutor_topic, "calendar:changed", |p| {
        p["change"] == "no_show"
    })
    .await;
    let to_board = frames_until(&board, "admin:monitor", "board:alert", |p| {
        p["kind"] == "no_show"
    })
    .await;
    for frames in [&to_family, &to_tutor, &to_board] {
        assert_eq!(count(frames, "lesson:late"), 0, "said once: {frames:?}");
    }
    assert_eq!(
        to_family.last().unwrap().payload["occurrence"]["status"],
        "tutor_no_show"
    );
    assert_eq!(to_board.last().unwrap().payload["lesson_id"], l);
    until_events(&app, &s.parent, l, &["opened", "late", "no_show"]).await;
    let row = stored(&app, l).await;
    assert_eq!(
        (&row["status"], &row["needs_review"]),
        (&json!("tutor_no_show"), &json!(true))
    );

    // A makeup credit per child, from this lesson.
    let (status, credits) = app.get("/api/v1/credits", Some(&s.parent.token)).await;
    assert_eq!(status, 200, "{credits}");
    let mine: Vec<&Value> = credits
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["source_lesson_id"] == l)
        .collect();
    assert_eq!(mine.len(), 2, "{credits}");
    for c in &mine {
        assert_eq!(
            (&c["state"], &c["reason"]),
            (&json!("available"), &json!("tutor did not attend"))
        );
    }
    let mut children: Vec<&str> = mine
        .iter()
        .map(|c| c["student_id"].as_str().unwrap())
        .collect();
    children.sort_unstable();
    let mut want = kids.to_vec();
    want.sort_unstable();
    assert_eq!(children, want);

    // The family is told through its channels; the tutor is not sent it.
    let deadline = std::time::Instant::now() + WAIT;
    let notice = loop {
        let (_, list) = app
            .get("/api/v1/notifications", Some(&s.parent.token))
            .await;
        if let Some(n) = list
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["kind"] == "no_show" && n["occurrence_id"] == l)
        {
            break n.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no notice: {list}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let text = notice["text"].as_str().unwrap();
    assert!(text.contains("did not take place"), "{text}");
    assert!(text.contains("Wed 10 Mar 2027, 16:00 GMT"), "{text}");
    let (_, tutor_list) = app.get("/api/v1/notifications", Some(&s.tutor.token)).await;
    assert!(
        !tutor_list
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "no_show"),
        "{tutor_list}"
    );

    // Too late to start now; and nothing more happens to it.
    let (status, _) = app
        .post(
            &format!("/api/v1/lessons/{l}/start"),
            Some(&s.tutor.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 409);
    clock.set(at("2027-03-10T18:00:00Z"));
    settle(&app, &s.parent, &s.tutor, &s.kids[2], "2028-01-12").await;
    assert_eq!(
        event_kinds(&app, &s.parent, l).await,
        ["opened", "late", "no_show"]
    );

    // An admin who has looked at it clears the flag: the board's alert
    // resolves and the log says so; once; never a parent.
    let reviewed = format!("/api/v1/admin/lessons/{l}/reviewed");
    let (status, _) = app.post(&reviewed, Some(&s.parent.token), json!({})).await;
    assert_eq!(status, 403);
    let (status, body) = app.post(&reviewed, Some(&s.admin.token), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let pushed = frames_until(&board, "admin:monitor", "board:lesson", |p| {
        p["change"] == "reviewed"
    })
    .await;
    assert_eq!(
        pushed.last().unwrap().payload["lesson"]["alerts"],
        json!([])
    );
    assert_eq!(stored(&app, l).await["needs_review"], json!(false));
    assert_eq!(
        event_kinds(&app, &s.parent, l).await,
        ["opened", "late", "no_show", "reviewed"]
    );
    let (status, _) = app.post(&reviewed, Some(&s.admin.token), json!({})).await;
    assert_eq!(status, 409);
}

#[actix_web::test]
async fn a_live_lesson_nobody_ends_is_ended_for_review_thirty_minutes_after_its_end() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 3).await;
    let kids = [s.kids[0].as_str(), s.kids[1].as_str()];
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &kids, "2027-03-10T16:00"),
    )
    .await;
    let l = id(&lesson);
    let tutor_topic = format!("tutor:{}", s.tutor.id);
    let tutor_socket = app.joined(&s.tutor, &tutor_topic).await;
    let board = app.joined(&s.admin, "admin:monitor").await;

    clock.set(at("2027-03-10T15:50:00Z"));
    until_events(&app, &s.tutor, l, &["opened"]).await;
    clock.set(at("2027-03-10T15:58:00Z"));
    let (status, body) = app
        .post(
            &format!("/api/v1/lessons/{l}/start"),
            Some(&s.tutor.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Started in time: no lateness, no no-show; still live just before
    // the bound.
    clock.set(at("2027-03-10T17:29:59Z"));
    settle(&app, &s.parent, &s.tutor, &s.kids[2], "2028-01-10").await;
    assert_eq!(stored(&app, l).await["status"], "live");
    assert_eq!(event_kinds(&app, &s.tutor, l).await, ["opened", "started"]);

    clock.set(at("2027-03-10T17:30:00Z"));
    let to_board = frames_until(&board, "admin:monitor", "board:alert", |p| {
        p["kind"] == "review"
    })
    .await;
    assert_eq!(count(&to_board, "lesson:late"), 0);
    let alert = &to_board.last().unwrap().payload;
    assert_eq!(
        (alert["lesson_id"].as_str(), &alert["at"]),
        (Some(l), &json!("2027-03-10T17:30:00Z"))
    );
    let ended = frames_until(&tutor_socket, &tutor_topic, "calendar:changed", |p| {
        p["change"] == "ended"
    })
    .await;
    let o = &ended.last().unwrap().payload["occurrence"];
    assert_eq!(o["status"], "completed");
    assert_eq!(o["ended_at"], "2027-03-10T17:30:00Z");
    let seats = o["attendance"].as_array().unwrap();
    assert_eq!(seats.len(), 2);
    assert!(
        seats
            .iter()
            .all(|a| a["status"] == "unconfirmed" && a["chargeable"] == false),
        "{seats:?}"
    );
    until_events(&app, &s.tutor, l, &["opened", "started", "auto_ended"]).await;
    let row = stored(&app, l).await;
    assert_eq!(
        (&row["status"], &row["needs_review"]),
        (&json!("completed"), &json!(true))
    );
    // An ended lesson is not ended again, and the tutor can no longer end it.
    let (status, _) = app
        .post(
            &format!("/api/v1/lessons/{l}/end"),
            Some(&s.tutor.token),
            json!({ "attendance": [
                { "student_id": kids[0], "status": "present" },
                { "student_id": kids[1], "status": "present" },
            ], "notes": "" }),
        )
        .await;
    assert_eq!(status, 409);
}

#[derive(Clone)]
struct Cast {
    admin: User,
    parent: User,
    tutor: User,
    kids: Vec<String>,
}

#[test]
fn after_restarts_the_timers_pick_up_in_order_and_never_repeat_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.auth.token_ttl_secs = 366 * 24 * 3600;

    // Booked on Monday: A on Wednesday 16:00, B at 17:30.
    let (cast, a, b) = run(
        &config,
        &dir,
        0,
        "2027-03-08T10:00:00Z",
        Box::new(|app, _clock| {
            Box::pin(async move {
                let s = school(&app, 2).await;
                let kid = s.kids[0].as_str();
                let a = book_ok(
                    &app,
                    &s.parent,
                    booking(&s.tutor, &[kid], "2027-03-10T16:00"),
                )
                .await;
                let b = book_ok(
                    &app,
                    &s.parent,
                    booking(&s.tutor, &[kid], "2027-03-10T17:30"),
                )
                .await;
                let cast = Cast {
                    admin: s.admin,
                    parent: s.parent,
                    tutor: s.tutor,
                    kids: s.kids,
                };
                (cast, id(&a).to_owned(), id(&b).to_owned())
            })
        }),
    );

    // Down until 16:07: A is past its opening and its late bound; both go
    // now, in that order, once.
    let (c, a1) = (cast.clone(), a.clone());
    run(
        &config,
        &dir,
        1,
        "2027-03-10T16:07:00Z",
        Box::new(move |app, _clock| {
            Box::pin(async move {
                until_events(&app, &c.parent, &a1, &["opened", "late"]).await;
                assert_eq!(stored(&app, &a1).await["late_said"], true);
            })
        }),
    );

    // Up again at 16:10: the lateness is not said again — not at start-up
    // (the log), not after (the board) — and the no-show comes at 16:15.
    let (c, a2, b2) = (cast.clone(), a.clone(), b.clone());
    run(
        &config,
        &dir,
        2,
        "2027-03-10T16:10:00Z",
        Box::new(move |app, clock| {
            Box::pin(async move {
                let board = app.joined(&c.admin, "admin:monitor").await;
                settle(&app, &c.parent, &c.tutor, &c.kids[1], "2028-01-10").await;
                assert_eq!(event_kinds(&app, &c.parent, &a2).await, ["opened", "late"]);
                clock.set(at("2027-03-10T16:15:00Z"));
                let seen = frames_until(&board, "admin:monitor", "board:alert", |p| {
                    p["kind"] == "no_show" && p["lesson_id"] == a2.as_str()
                })
                .await;
                assert_eq!(count(&seen, "lesson:late"), 0, "{seen:?}");
                until_events(&app, &c.parent, &a2, &["opened", "late", "no_show"]).await;
                assert!(event_kinds(&app, &c.parent, &b2).await.is_empty());
            })
        }),
    );

    // Down until 18:30: B passed its opening, late and no-show bounds
    // meanwhile; it goes through them in order, and A is left as it was.
    let (c, a3, b3) = (cast.clone(), a.clone(), b.clone());
    run(
        &config,
        &dir,
        3,
        "2027-03-10T18:30:00Z",
        Box::new(move |app, _clock| {
            Box::pin(async move {
                until_events(&app, &c.parent, &b3, &["opened", "late", "no_show"]).await;
                settle(&app, &c.parent, &c.tutor, &c.kids[1], "2028-01-11").await;
                assert_eq!(
                    event_kinds(&app, &c.parent, &a3).await,
                    ["opened", "late", "no_show"]
                );
                let (_, credits) = app.get("/api/v1/credits", Some(&c.parent.token)).await;
                let from = |l: &str| {
                    credits
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|x| x["source_lesson_id"] == l)
                        .count()
                };
                assert_eq!((from(&a3), from(&b3)), (1, 1), "one credit each: {credits}");
            })
        }),
    );
}

/// The people waiting in the lesson's room hear the status the timers set
/// (the room opening, then the tutor's no-show), and the admins' board gets
/// the lesson's row for each.
#[actix_web::test]
async fn the_room_and_the_board_hear_the_opening_and_the_no_show() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
    )
    .await;
    let room = format!("session:{}", id(&lesson));
    let parent = app.joined(&s.parent, &room).await;
    let board = app.joined(&s.admin, "admin:monitor").await;
    clock.set(at("2027-03-10T15:50:00Z"));
    let seen = frames_until(&parent, &room, "lesson:status", |p| p["status"] == "open").await;
    assert_eq!(
        seen.last().unwrap().payload["by"],
        Value::Null,
        "the server, not a person"
    );
    clock.set(at("2027-03-10T16:15:00Z"));
    let seen = frames_until(&parent, &room, "lesson:status", |p| {
        p["status"] == "tutor_no_show"
    })
    .await;
    assert_eq!(seen.last().unwrap().payload["at"], "2027-03-10T16:15:00Z");
    for (change, status) in [
        ("opened", "open"),
        ("late", "open"),
        ("no_show", "tutor_no_show"),
    ] {
        let seen = frames_until(&board, "admin:monitor", "board:lesson", |p| {
            p["change"] == change
        })
        .await;
        let row = &seen.last().unwrap().payload["lesson"];
        assert_eq!(
            (row["id"].as_str(), &row["status"]),
            (Some(id(&lesson)), &json!(status)),
            "{change}"
        );
    }
}

/// A server restarted while a lesson is live finds it live — the room hands
/// the video out again — and still ends it for review at end + 30 minutes,
/// not before.
#[test]
fn a_restart_while_live_keeps_the_lesson_live_and_its_auto_end_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.auth.token_ttl_secs = 366 * 24 * 3600;
    let (cast, l) = run(
        &config,
        &dir,
        0,
        "2027-03-08T10:00:00Z",
        Box::new(|app, clock| {
            Box::pin(async move {
                let s = school(&app, 1).await;
                let lesson = book_ok(
                    &app,
                    &s.parent,
                    booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
                )
                .await;
                let l = id(&lesson).to_owned();
                // The room opens first (a jump past it would race the start).
                clock.set(at("2027-03-10T15:55:00Z"));
                until_events(&app, &s.parent, &l, &["opened"]).await;
                clock.set(at("2027-03-10T16:01:00Z"));
                let (status, body) = app
                    .post(
                        &format!("/api/v1/lessons/{l}/start"),
                        Some(&s.tutor.token),
                        json!({}),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
                let cast = Cast {
                    admin: s.admin,
                    parent: s.parent,
                    tutor: s.tutor,
                    kids: s.kids,
                };
                (cast, l)
            })
        }),
    );

    run(
        &config,
        &dir,
        1,
        "2027-03-10T16:30:00Z",
        Box::new(move |app, clock| {
            Box::pin(async move {
                assert_eq!(stored(&app, &l).await["status"], "live");
                let c = app.connect(&cast.parent).await;
                let topic = format!("session:{l}");
                let r = c.join(&topic, json!({})).await.unwrap();
                assert_eq!(r.response["lesson"]["status"], "live", "{:?}", r.response);
                // A minute before the auto-end bound: still live.
                clock.set(at("2027-03-10T17:29:00Z"));
                settle(&app, &cast.parent, &cast.tutor, &cast.kids[0], "2028-01-10").await;
                assert_eq!(stored(&app, &l).await["status"], "live");
                clock.set(at("2027-03-10T17:30:00Z"));
                until_events(&app, &cast.parent, &l, &["opened", "started", "auto_ended"]).await;
                let s = stored(&app, &l).await;
                assert_eq!(
                    (&s["status"], &s["needs_review"]),
                    (&json!("completed"), &json!(true))
                );
            })
        }),
    );
}
