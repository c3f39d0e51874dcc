//! The lesson room, `session:<lesson_id>`, on the real server with time
//! from an injected clock: who may enter and who is present, starting over
//! the socket (and racing it), each person's own video token, ending with
//! attendance, WebRTC signals for one participant only, and a REST start
//! reaching the room.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use cms_loadtest::PhxClient;
use cms_protocol::ReplyStatus;
use cms_server::video::VideoProvider;
use common::sched::{School, book_ok, booking, cancel, school};
use common::{TestApp, User, WAIT, spawn_app_at_with, test_config};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

const APP_SECRET: &str = "room-test-video-secret";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The server with Jitsi token authentication configured.
async fn app() -> (TestApp, std::sync::Arc<cms_actors::ManualClock>) {
    let mut c = test_config();
    c.video.provider = VideoProvider::Jitsi;
    c.video.base_url = "https://meet.example.org".into();
    c.video.app_id = Some("cms-test".into());
    c.video.app_secret = Some(APP_SECRET.into());
    spawn_app_at_with(c, "2027-03-01T09:00:00Z").await
}

/// A school and one lesson of its first child on 10 March at 16:00.
async fn lesson(app: &TestApp) -> (School, String) {
    let s = school(app, 1).await;
    let l = book_ok(
        app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
    )
    .await;
    let id = l["id"].as_str().unwrap().to_owned();
    (s, id)
}

/// The next `lesson:status` on `topic` other than the room opening: these
/// tests jump the clock past the opening, and the timers may announce it
/// (`open`) before the start or find the lesson already started.
async fn next_status(c: &cms_loadtest::PhxClient, topic: &str) -> cms_protocol::Frame {
    loop {
        let f = c
            .next_event_named(topic, "lesson:status", WAIT)
            .await
            .unwrap();
        if f.payload["status"] != "open" {
            return f;
        }
    }
}

fn room(id: &str) -> String {
    format!("session:{id}")
}

/// Joins and returns the socket and the ok response.
async fn enter(app: &TestApp, who: &User, topic: &str) -> (PhxClient, Value) {
    let c = app.connect(who).await;
    let r = c.join(topic, json!({})).await.unwrap();
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
    (c, r.response)
}

async fn refused(app: &TestApp, who: &User, topic: &str) -> Value {
    let c = app.connect(who).await;
    let r = c.join(topic, json!({})).await.unwrap();
    assert_eq!(r.status, ReplyStatus::Error, "{:?}", r.response);
    r.response
}

/// The Jitsi claims of a `video:ready` payload, signature checked.
fn claims(video: &Value) -> Value {
    let token = video["token"].as_str().expect("a token");
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["jitsi"]);
    v.set_issuer(&["cms-test"]);
    v.validate_exp = false;
    v.validate_nbf = false;
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(APP_SECRET.as_bytes()), &v)
        .expect("the token verifies with the app secret")
        .claims
}

#[actix_web::test]
async fn members_enter_with_presence_and_everyone_else_is_refused() {
    let (app, _clock) = app().await;
    let (s, id) = lesson(&app).await;
    let topic = room(&id);

    let (tutor, joined) = enter(&app, &s.tutor, &topic).await;
    assert_eq!(joined["lesson"]["id"], id.as_str());
    assert_eq!(joined["lesson"]["status"], "booked");
    assert_eq!(joined["lesson"]["tutor"]["id"], s.tutor.id.as_str());
    assert_eq!(joined["lesson"]["students"][0]["id"], s.kids[0].as_str());
    assert_eq!(joined["lesson"]["start"], "2027-03-10T16:00:00Z");
    assert!(joined.get("video").is_none(), "no video before it is live");

    let (parent, _) = enter(&app, &s.parent, &topic).await;
    let state = parent
        .next_event_named(&topic, "presence_state", WAIT)
        .await
        .unwrap()
        .payload;
    assert_eq!(state[&s.tutor.id]["metas"][0]["role"], "tutor");
    assert_eq!(state[&s.tutor.id]["metas"][0]["name"], "Tom Tutor");
    assert_eq!(state[&s.parent.id]["metas"][0]["role"], "parent");
    let diff = tutor
        .next_event_named(&topic, "presence_diff", WAIT)
        .await
        .unwrap()
        .payload;
    assert_eq!(diff["joins"][&s.parent.id]["metas"][0]["role"], "parent");

    // An admin may look in.
    enter(&app, &s.admin, &topic).await;

    // A stranger, another family's parent, another tutor, a missing
    // lesson: all the same refusal.
    let stranger = app.register("parent", "Stranger").await;
    let other_family = school(&app, 1).await;
    let other_tutor = common::sched::approved_tutor(&app, &s.admin, "Other Tutor").await;
    for who in [&stranger, &other_family.parent, &other_tutor] {
        let r = refused(&app, who, &topic).await;
        assert_eq!(r["reason"], "unauthorized", "{r}");
    }
    let r = refused(&app, &s.parent, "session:nosuchlesson").await;
    assert_eq!(r["reason"], "unauthorized");

    // Leaving is heard.
    parent.close().await;
    loop {
        let diff = tutor
            .next_event_named(&topic, "presence_diff", WAIT)
            .await
            .unwrap()
            .payload;
        // The admin's join came first.
        if let Some(left) = diff["leaves"].get(&s.parent.id) {
            assert_eq!(left["metas"][0]["role"], "parent");
            break;
        }
    }
}

#[actix_web::test]
async fn cancelled_and_moved_lessons_are_not_active() {
    let (app, _clock) = app().await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let cancelled = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
    let moved = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-12T16:00"),
    )
    .await;
    let (status, res) = cancel(&app, &s.parent, &cancelled, json!({ "reason": "trip" })).await;
    assert_eq!(status, 200, "{res}");
    let moved_id = moved["id"].as_str().unwrap();
    let (status, res) = app
        .post(
            &format!("/api/v1/lessons/{moved_id}/reschedule"),
            Some(&s.parent.token),
            json!({ "start": "2027-03-13T16:00", "reason": "football" }),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let new_id = res["occurrence"]["id"].as_str().unwrap();

    let r = refused(&app, &s.tutor, &room(cancelled["id"].as_str().unwrap())).await;
    assert_eq!(r["reason"], "lesson_not_active", "{r}");
    assert!(r.get("rescheduled_to").is_none());
    let r = refused(&app, &s.parent, &room(moved_id)).await;
    assert_eq!(r["reason"], "lesson_not_active", "{r}");
    assert_eq!(r["rescheduled_to"], new_id);
    // The moved lesson's own room is open to the family.
    enter(&app, &s.parent, &room(new_id)).await;
}

#[actix_web::test]
async fn the_tutor_starts_over_the_socket_and_each_gets_their_own_video() {
    let (app, clock) = app().await;
    let (s, id) = lesson(&app).await;
    let topic = room(&id);
    let (tutor, _) = enter(&app, &s.tutor, &topic).await;
    let (parent, _) = enter(&app, &s.parent, &topic).await;
    clock.set(at("2027-03-10T15:55:00Z"));

    // Parents never start lessons.
    let r = parent
        .push(&topic, "lesson:start", json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, ReplyStatus::Error);
    assert_eq!(r.response["reason"], "forbidden", "{:?}", r.response);

    let r = tutor.push(&topic, "lesson:start", json!({})).await.unwrap();
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
    assert_eq!(r.response["lesson"]["status"], "live");

    let mut videos = Vec::new();
    for c in [&tutor, &parent] {
        let st = next_status(c, &topic).await.payload;
        assert_eq!(st["status"], "live");
        assert_eq!(st["by"], s.tutor.id.as_str());
        assert_eq!(st["at"], "2027-03-10T15:55:00Z");
        let v = c
            .next_event_named(&topic, "video:ready", WAIT)
            .await
            .unwrap()
            .payload;
        assert_eq!(v["provider"], "jitsi");
        videos.push(v);
    }
    let (t, p) = (claims(&videos[0]), claims(&videos[1]));
    assert_eq!(t["room"], p["room"], "one room for everyone");
    assert_eq!(videos[0]["room"], t["room"]);
    assert_ne!(videos[0]["token"], videos[1]["token"], "a token per person");
    assert_eq!(t["context"]["user"]["id"], s.tutor.id.as_str());
    assert_eq!(t["context"]["user"]["moderator"], true);
    assert_eq!(p["context"]["user"]["id"], s.parent.id.as_str());
    assert_eq!(p["context"]["user"]["moderator"], false);
    assert!(
        !t["room"].as_str().unwrap().contains(id.as_str()),
        "the room is not the lesson id"
    );

    // Someone entering a live lesson gets their video in the join reply.
    let second = app.add_parent(&s.parent, "Second Parent").await;
    let (_late, joined) = enter(&app, &second, &topic).await;
    assert_eq!(joined["lesson"]["status"], "live");
    let c = claims(&joined["video"]);
    assert_eq!(c["room"], t["room"]);
    assert_eq!(c["context"]["user"]["id"], second.id.as_str());
    assert_eq!(c["context"]["user"]["moderator"], false);
}

#[actix_web::test]
async fn two_sockets_starting_at_once_make_one_live_transition() {
    let (app, clock) = app().await;
    let (s, id) = lesson(&app).await;
    let topic = room(&id);
    let (a, _) = enter(&app, &s.tutor, &topic).await;
    let (b, _) = enter(&app, &s.admin, &topic).await;
    let (watcher, _) = enter(&app, &s.parent, &topic).await;
    clock.set(at("2027-03-10T16:02:00Z"));

    let (ra, rb) = tokio::join!(
        a.push(&topic, "lesson:start", json!({})),
        b.push(&topic, "lesson:start", json!({}))
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let mut outcomes = [ra.status, rb.status].map(|s| s == ReplyStatus::Ok);
    outcomes.sort_unstable();
    assert_eq!(
        outcomes,
        [false, true],
        "{:?} {:?}",
        ra.response,
        rb.response
    );
    let loser = if ra.status == ReplyStatus::Ok {
        &rb
    } else {
        &ra
    };
    assert_eq!(loser.response["reason"], "conflict", "{:?}", loser.response);

    for c in [&a, &b, &watcher] {
        let st = next_status(c, &topic).await;
        assert_eq!(st.payload["status"], "live");
    }
    for c in [&a, &b, &watcher] {
        c.expect_no_event(&topic, "lesson:status", Duration::from_millis(300))
            .await;
    }
    let (status, log) = app
        .get(
            &format!("/api/v1/lessons/{id}/events"),
            Some(&s.tutor.token),
        )
        .await;
    assert_eq!(status, 200);
    let started = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "started")
        .count();
    assert_eq!(started, 1, "{log}");
}

#[actix_web::test]
async fn ending_over_the_socket_records_attendance_and_tells_the_room() {
    let (app, clock) = app().await;
    let (s, id) = lesson(&app).await;
    let topic = room(&id);
    let (tutor, _) = enter(&app, &s.tutor, &topic).await;
    let (parent, _) = enter(&app, &s.parent, &topic).await;
    clock.set(at("2027-03-10T16:00:00Z"));
    let r = tutor.push(&topic, "lesson:start", json!({})).await.unwrap();
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
    for c in [&tutor, &parent] {
        next_status(c, &topic).await;
    }

    let marks = json!({
        "attendance": [{ "student_id": s.kids[0], "status": "late" }],
        "notes": "fractions", "homework_hint": "page 12"
    });
    let r = parent
        .push(&topic, "lesson:end", marks.clone())
        .await
        .unwrap();
    assert_eq!(r.response["reason"], "forbidden", "{:?}", r.response);
    let r = tutor
        .push(
            &topic,
            "lesson:end",
            json!({ "attendance": [], "notes": "" }),
        )
        .await
        .unwrap();
    assert_eq!(r.response["reason"], "bad_request", "{:?}", r.response);
    let r = tutor
        .push(&topic, "lesson:end", json!({ "notes": "" }))
        .await
        .unwrap();
    assert_eq!(r.response["reason"], "bad_request", "{:?}", r.response);

    clock.set(at("2027-03-10T17:00:00Z"));
    let r = tutor.push(&topic, "lesson:end", marks).await.unwrap();
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
    assert_eq!(r.response["lesson"]["status"], "completed");
    assert_eq!(r.response["lesson"]["attendance"][0]["status"], "late");
    for c in [&tutor, &parent] {
        let st = next_status(c, &topic).await.payload;
        assert_eq!(st["status"], "completed");
        assert_eq!(st["at"], "2027-03-10T17:00:00Z");
        assert_eq!(st["by"], s.tutor.id.as_str());
    }
    // Over: no video for anyone entering now.
    let (_c, joined) = enter(&app, &s.parent, &topic).await;
    assert_eq!(joined["lesson"]["status"], "completed");
    assert!(joined.get("video").is_none());
}

#[actix_web::test]
async fn signals_reach_only_their_addressee_and_stay_small() {
    let (app, _clock) = app().await;
    let (s, id) = lesson(&app).await;
    let topic = room(&id);
    let second = app.add_parent(&s.parent, "Second Parent").await;
    let (tutor, _) = enter(&app, &s.tutor, &topic).await;
    let (parent, _) = enter(&app, &s.parent, &topic).await;
    let (other, _) = enter(&app, &second, &topic).await;

    let offer = json!({ "to": s.parent.id, "kind": "offer", "data": { "sdp": "v=0 …" } });
    let r = tutor.push(&topic, "webrtc:signal", offer).await.unwrap();
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
    let got = parent
        .next_event_named(&topic, "webrtc:signal", WAIT)
        .await
        .unwrap()
        .payload;
    assert_eq!(
        got,
        json!({ "from": s.tutor.id, "kind": "offer", "data": { "sdp": "v=0 …" } })
    );
    for c in [&other, &tutor] {
        c.expect_no_event(&topic, "webrtc:signal", Duration::from_millis(300))
            .await;
    }

    // Over 16 KiB of data: refused, and nobody gets it.
    let big = json!({ "to": s.parent.id, "kind": "ice", "data": "x".repeat(16 * 1024) });
    let r = tutor.push(&topic, "webrtc:signal", big).await.unwrap();
    assert_eq!(r.response["reason"], "too_large", "{:?}", r.response);
    parent
        .expect_no_event(&topic, "webrtc:signal", Duration::from_millis(300))
        .await;

    // Someone not in the room, and a kind there is not.
    let r = tutor
        .push(
            &topic,
            "webrtc:signal",
            json!({ "to": s.admin.id, "kind": "answer", "data": {} }),
        )
        .await
        .unwrap();
    assert_eq!(r.response["reason"], "not_found", "{:?}", r.response);
    let r = tutor
        .push(
            &topic,
            "webrtc:signal",
            json!({ "to": s.parent.id, "kind": "hello", "data": {} }),
        )
        .await
        .unwrap();
    assert_eq!(r.response["reason"], "bad_request", "{:?}", r.response);
    let r = tutor.push(&topic, "no:such", json!({})).await.unwrap();
    assert_eq!(r.response["reason"], "unknown_event", "{:?}", r.response);
}

#[actix_web::test]
async fn a_rest_start_reaches_the_room() {
    let (app, clock) = app().await;
    let (s, id) = lesson(&app).await;
    let topic = room(&id);
    let (tutor, _) = enter(&app, &s.tutor, &topic).await;
    let (parent, _) = enter(&app, &s.parent, &topic).await;
    clock.set(at("2027-03-10T15:50:00Z"));

    let (status, body) = app
        .post(
            &format!("/api/v1/lessons/{id}/start"),
            Some(&s.admin.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut rooms = Vec::new();
    for (c, who) in [(&tutor, &s.tutor), (&parent, &s.parent)] {
        let st = next_status(c, &topic).await.payload;
        assert_eq!(
            (st["status"].as_str(), st["by"].as_str()),
            (Some("live"), Some(s.admin.id.as_str()))
        );
        let v = c
            .next_event_named(&topic, "video:ready", WAIT)
            .await
            .unwrap()
            .payload;
        let c = claims(&v);
        assert_eq!(c["context"]["user"]["id"], who.id.as_str());
        rooms.push(c["room"].clone());
    }
    assert_eq!(rooms[0], rooms[1]);
}

/// A lesson moved twice keeps the video room its first booking would have
/// had: the room derives from the original lesson, which each move points
/// back to, so a link shared for the lesson stays the lesson's.
#[actix_web::test]
async fn a_moved_lesson_keeps_its_video_room() {
    let (app, clock) = app().await;
    let (s, first) = lesson(&app).await;
    let mut id = first.clone();
    for day in ["2027-03-11T16:00", "2027-03-12T16:00"] {
        let (status, res) = app
            .post(
                &format!("/api/v1/lessons/{id}/reschedule"),
                Some(&s.parent.token),
                json!({ "start": day, "reason": "football" }),
            )
            .await;
        assert_eq!(status, 200, "{res}");
        id = res["occurrence"]["id"].as_str().unwrap().to_owned();
    }
    assert_ne!(id, first);
    let topic = room(&id);
    let (tutor, _) = enter(&app, &s.tutor, &topic).await;
    clock.set(at("2027-03-12T15:55:00Z"));
    let r = tutor.push(&topic, "lesson:start", json!({})).await.unwrap();
    assert_eq!(r.status, ReplyStatus::Ok, "{:?}", r.response);
    let v = tutor
        .next_event_named(&topic, "video:ready", WAIT)
        .await
        .unwrap()
        .payload;
    // The test server's token secret is `test_config()`'s.
    let original = cms_server::video::room_name(b"test-secret", &first).unwrap();
    let own = cms_server::video::room_name(b"test-secret", &id).unwrap();
    assert_eq!(claims(&v)["room"], original.as_str());
    assert_ne!(original, own);
    assert!(v["url"].as_str().unwrap().contains(&original), "{v}");
}

/// Entering and leaving the room are in the lesson's log: a person's first
/// socket in is `joined`, their last one out `left`.
#[actix_web::test]
async fn entering_and_leaving_the_room_are_logged() {
    let (app, _clock) = app().await;
    let (s, id) = lesson(&app).await;
    let topic = room(&id);
    let (tutor, _) = enter(&app, &s.tutor, &topic).await;
    let (parent, _) = enter(&app, &s.parent, &topic).await;
    // A second socket of the same parent is not a second entry.
    let (again, _) = enter(&app, &s.parent, &topic).await;
    again.close().await;
    parent.close().await;
    let want = [
        ("joined", s.tutor.id.as_str()),
        ("joined", s.parent.id.as_str()),
        ("left", s.parent.id.as_str()),
    ];
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, log) = app
            .get(
                &format!("/api/v1/lessons/{id}/events"),
                Some(&s.tutor.token),
            )
            .await;
        assert_eq!(status, 200, "{log}");
        let mut got: Vec<(String, String)> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["by"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        // Entries written as people come and go; the two joins may land in
        // either order.
        got.sort();
        let mut expected: Vec<(String, String)> = want
            .iter()
            .map(|(k, b)| ((*k).to_owned(), (*b).to_owned()))
            .collect();
        expected.sort();
        if got == expected {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "log {got:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(tutor);
}
