//! The admins' live board on `admin:monitor`, on the real server with time
//! from an injected clock: the join snapshot (the window around now, who
//! is in each room, lateness), `board:lesson` for a booking, a start, people
//! entering and leaving a room and an end, a fresh snapshot on a rejoin,
//! and nobody but admins joining.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Utc};
use cms_loadtest::PhxClient;
use cms_protocol::ReplyStatus;
use common::sched::{book_ok, booking, cancel, school};
use common::{TestApp, User, WAIT, spawn_app_at};
use serde_json::{Value, json};

const BOARD: &str = "admin:monitor";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Books the parent's first child with the tutor at `start` (London).
async fn lesson(app: &TestApp, parent: &User, tutor: &User, kid: &str, start: &str) -> String {
    let l = book_ok(app, parent, booking(tutor, &[kid], start)).await;
    l["id"].as_str().unwrap().to_owned()
}

/// Joins the board; the snapshot.
async fn board(app: &TestApp, admin: &User) -> (PhxClient, Value) {
    let c = app.connect(admin).await;
    let r = c.join(BOARD, json!({})).await.unwrap();
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
    (c, r.response)
}

fn row<'a>(snapshot: &'a Value, id: &str) -> &'a Value {
    snapshot["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not on the board: {snapshot}"))
}

fn ids(snapshot: &Value) -> Vec<&str> {
    snapshot["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect()
}

/// Who is in a row's room, by user id.
fn in_room(row: &Value) -> Vec<&str> {
    row["in_room"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user_id"].as_str().unwrap())
        .collect()
}

/// The next `board:lesson` about `id` with `change`, skipping others (the
/// lesson timers push their own about the same lesson).
async fn pushed(c: &PhxClient, id: &str, change: &str) -> Value {
    loop {
        let f = c
            .next_event_named(BOARD, "board:lesson", WAIT)
            .await
            .unwrap_or_else(|e| panic!("no board:lesson {change} for {id}: {e:?}"));
        if f.payload["lesson"]["id"] == id && f.payload["change"] == change {
            return f.payload["lesson"].clone();
        }
    }
}

#[actix_web::test]
async fn the_snapshot_holds_the_window_with_who_is_in_each_room() {
    let (app, clock) = spawn_app_at("2027-03-10T07:00:00Z").await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let gone = lesson(&app, &s.parent, &s.tutor, kid, "2027-03-10T08:00").await;
    let ended = lesson(&app, &s.parent, &s.tutor, kid, "2027-03-10T11:00").await;
    let soon = lesson(&app, &s.parent, &s.tutor, kid, "2027-03-10T16:00").await;
    let tomorrow = lesson(&app, &s.parent, &s.tutor, kid, "2027-03-11T08:00").await;

    // The window is [11:30, 02:30 tomorrow): 08:00–09:00 ended before it,
    // 11:00–12:00 reaches into it, 08:00 tomorrow starts after it.
    clock.set(at("2027-03-10T14:30:00Z"));
    let (_tutor, _) = {
        let c = app.connect(&s.tutor).await;
        let r = c.join(&format!("session:{soon}"), json!({})).await.unwrap();
        assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
        (c, r)
    };
    let (_adm, snap) = board(&app, &s.admin).await;
    assert_eq!(snap["at"], "2027-03-10T14:30:00Z");
    assert_eq!(ids(&snap), [ended.as_str(), soon.as_str()], "{snap}");
    assert!(!ids(&snap).contains(&gone.as_str()));
    assert!(!ids(&snap).contains(&tomorrow.as_str()));

    let r = row(&snap, &soon);
    assert_eq!(r["status"], "booked");
    assert_eq!(r["start"], "2027-03-10T16:00:00Z");
    assert_eq!(r["subject"], "Maths");
    assert_eq!(r["tutor"]["id"], s.tutor.id.as_str());
    assert_eq!(r["students"][0]["id"], kid);
    assert_eq!(r["alerts"], json!([]));
    assert!(r.get("minutes_late").is_none(), "not due yet");
    assert_eq!(in_room(r), [s.tutor.id.as_str()]);
    assert_eq!(r["in_room"][0]["role"], "tutor");
    assert_eq!(r["in_room"][0]["name"], "Tom Tutor");
    assert_eq!(in_room(row(&snap, &ended)), Vec::<&str>::new());
}

#[actix_web::test]
async fn bookings_starts_presence_and_ends_are_pushed_and_a_rejoin_reads_afresh() {
    let (app, clock) = spawn_app_at("2027-03-10T09:00:00Z").await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let id = lesson(&app, &s.parent, &s.tutor, kid, "2027-03-10T16:00").await;
    let (adm, snap) = board(&app, &s.admin).await;
    assert_eq!(ids(&snap), [id.as_str()]);
    assert_eq!(in_room(row(&snap, &id)), Vec::<&str>::new());

    // A booking inside the window.
    let later = lesson(&app, &s.parent, &s.tutor, kid, "2027-03-10T18:00").await;
    // `calendar:changed` still reaches the board's topic, first.
    let cal = adm
        .next_event_named(BOARD, "calendar:changed", WAIT)
        .await
        .unwrap();
    assert_eq!(cal.payload["occurrence"]["id"], later.as_str());
    let r = pushed(&adm, &later, "booked").await;
    assert_eq!(r["status"], "booked");
    assert_eq!(r["students"][0]["id"], kid);

    // And one cancelled.
    let extra = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T19:30"),
    )
    .await;
    let extra_id = extra["id"].as_str().unwrap();
    pushed(&adm, extra_id, "booked").await;
    let (status, res) = cancel(&app, &s.parent, &extra, json!({ "reason": "ill" })).await;
    assert_eq!(status, 200, "{res}");
    let r = pushed(&adm, extra_id, "cancelled").await;
    assert_eq!(r["status"], "cancelled");

    // The tutor enters the room three minutes after the start.
    clock.set(at("2027-03-10T16:03:00Z"));
    let topic = format!("session:{id}");
    let tutor = app.connect(&s.tutor).await;
    assert_eq!(
        tutor.join(&topic, json!({})).await.unwrap().status,
        ReplyStatus::Ok
    );
    let r = pushed(&adm, &id, "presence").await;
    assert_eq!(in_room(&r), [s.tutor.id.as_str()]);
    assert_eq!(r["minutes_late"], 3);

    // A rejoin reads the board again.
    let again = adm.join(BOARD, json!({})).await.unwrap();
    assert_eq!(again.status, ReplyStatus::Ok);
    assert_eq!(again.response["at"], "2027-03-10T16:03:00Z");
    let r = row(&again.response, &id);
    assert_eq!(r["minutes_late"], 3);
    assert_eq!(in_room(r), [s.tutor.id.as_str()]);
    assert_eq!(
        ids(&again.response),
        [id.as_str(), later.as_str(), extra_id],
        "a cancelled lesson stays on the board, as cancelled"
    );

    // The tutor starts it over REST.
    let (status, body) = app
        .post(
            &format!("/api/v1/lessons/{id}/start"),
            Some(&s.tutor.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let r = pushed(&adm, &id, "started").await;
    assert_eq!(r["status"], "live");
    assert_eq!(r["started_at"], "2027-03-10T16:03:00Z");
    assert!(r.get("minutes_late").is_none(), "started: no longer late");
    assert_eq!(in_room(&r), [s.tutor.id.as_str()]);

    // A parent comes in, then goes.
    let parent = app.connect(&s.parent).await;
    assert_eq!(
        parent.join(&topic, json!({})).await.unwrap().status,
        ReplyStatus::Ok
    );
    let r = pushed(&adm, &id, "presence").await;
    let mut inside = in_room(&r);
    inside.sort_unstable();
    let mut both = [s.tutor.id.as_str(), s.parent.id.as_str()];
    both.sort_unstable();
    assert_eq!(inside, both);
    assert_eq!(r["status"], "live");
    parent.close().await;
    let r = pushed(&adm, &id, "presence").await;
    assert_eq!(in_room(&r), [s.tutor.id.as_str()]);

    // The tutor ends it with attendance.
    clock.set(at("2027-03-10T17:00:00Z"));
    let (status, body) = app
        .post(
            &format!("/api/v1/lessons/{id}/end"),
            Some(&s.tutor.token),
            json!({ "attendance": [{ "student_id": kid, "status": "present" }], "notes": "" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let r = pushed(&adm, &id, "ended").await;
    assert_eq!(r["status"], "completed");
    assert_eq!(r["ended_at"], "2027-03-10T17:00:00Z");
    assert_eq!(r["alerts"], json!([]));
}

#[actix_web::test]
async fn only_admins_join_the_board() {
    let (app, _clock) = spawn_app_at("2027-03-10T09:00:00Z").await;
    let s = school(&app, 1).await;
    for who in [&s.parent, &s.tutor] {
        let c = app.connect(who).await;
        let r = c.join(BOARD, json!({})).await.unwrap();
        assert_eq!(r.status, ReplyStatus::Error, "{:?}", r.response);
        assert_eq!(r.response["reason"], "unauthorized");
        assert!(r.response.get("lessons").is_none());
    }
}
