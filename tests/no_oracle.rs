//! A lesson or student the caller may not see answers exactly as one that
//! does not exist, on every lesson route: a stranger learns neither that
//! another family's lesson exists nor what kind it is.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use common::sched::{book_ok, booking, school, student};
use common::*;
use serde_json::{Value, json};

/// Every lesson route, with a body that would be valid for a lesson the
/// caller may change.
fn routes(id: &str, kid: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", format!("/api/v1/lessons/{id}"), None),
        (
            "POST",
            format!("/api/v1/lessons/{id}/cancel"),
            Some(json!({ "reason": "probing" })),
        ),
        (
            "POST",
            format!("/api/v1/lessons/{id}/reschedule"),
            Some(json!({ "start": "2027-03-20T16:00", "reason": "probing" })),
        ),
        (
            "POST",
            format!("/api/v1/lessons/{id}/students"),
            Some(json!({ "student_ids": [kid] })),
        ),
        // Start and end refuse a parent (403) before reading the lesson;
        // another tutor's lesson is tests/live_lessons.rs's.
        ("GET", format!("/api/v1/lessons/{id}/events"), None),
    ]
}

#[actix_web::test]
async fn another_familys_lessons_answer_as_missing_ones_on_every_route() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 4).await;
    let kids: Vec<&str> = s.kids.iter().map(String::as_str).collect();
    let one_to_one = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &kids[..1], "2027-03-10T16:00"),
    )
    .await;
    let mut full = booking(&s.tutor, &kids, "2027-03-11T16:00");
    full["group"] = json!(true);
    let full = book_ok(&app, &s.parent, full).await;
    let mut gone = booking(&s.tutor, &kids[..1], "2027-03-12T16:00");
    gone["group"] = json!(true);
    let gone = book_ok(&app, &s.parent, gone).await;
    common::sched::cancel(&app, &s.parent, &gone, json!({ "reason": "off" })).await;

    let stranger = app.register("parent", "Stranger").await;
    let theirs = student(&app, &stranger, "Stranger Kid").await;
    let missing = "01a2096fab86728cb2216b2623061736";
    for lesson in [&one_to_one, &full, &gone] {
        let id = lesson["id"].as_str().unwrap();
        for ((method, path, body), (_, missing_path, _)) in routes(id, &theirs)
            .into_iter()
            .zip(routes(missing, &theirs))
        {
            let seen = app
                .request(method, &path, Some(&stranger.token), body.clone())
                .await;
            let none = app
                .request(method, &missing_path, Some(&stranger.token), body)
                .await;
            assert_eq!(seen.0, 404, "{method} {path}: {}", seen.1);
            assert_eq!(seen, none, "{method} {path} tells a lesson from no lesson");
        }
    }
}

#[actix_web::test]
async fn another_familys_child_answers_as_no_child() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let stranger = app.register("parent", "Stranger").await;
    let mine = student(&app, &stranger, "Mine").await;
    let mut group = booking(&s.tutor, &[&mine], "2027-03-10T16:00");
    group["group"] = json!(true);
    let group = book_ok(&app, &stranger, group).await;
    let group_id = group["id"].as_str().unwrap();
    for kid in [s.kids[0].as_str(), "01a2096fab86728cb2216b2623061736"] {
        let booked = app
            .post(
                "/api/v1/bookings",
                Some(&stranger.token),
                booking(&s.tutor, &[kid], "2027-03-11T16:00"),
            )
            .await;
        assert_eq!(booked.0, 404, "{kid}: {}", booked.1);
        assert_eq!(booked.1["message"], "no such student");
        let added = app
            .post(
                &format!("/api/v1/lessons/{group_id}/students"),
                Some(&stranger.token),
                json!({ "student_ids": [kid] }),
            )
            .await;
        assert_eq!(added.0, 404, "{kid}: {}", added.1);
        assert_eq!(added.1["message"], "no such student");
    }
}

#[actix_web::test]
async fn an_open_group_lesson_stays_joinable_by_its_id() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let mut group = booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00");
    group["group"] = json!(true);
    let group = book_ok(&app, &s.parent, group).await;
    let peer = app.register("parent", "Peer").await;
    let peer_kid = student(&app, &peer, "Peer Kid").await;
    let (status, res) = app
        .post(
            &format!("/api/v1/lessons/{}/students", group["id"].as_str().unwrap()),
            Some(&peer.token),
            json!({ "student_ids": [peer_kid] }),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["students"].as_array().unwrap().len(), 2);
}
