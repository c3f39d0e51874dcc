//! Live shared calendars: `calendar:changed` on the family, tutor and admin
//! topics; the calendar endpoint per role; the secret iCalendar feed parsed
//! by an independent parser; finding tutors and their free slots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use cms_protocol::ReplyStatus;
use common::sched::{approved_tutor, book_ok, booking, cancel, school};
use common::{WAIT, spawn_app_at};
use serde_json::json;

/// The next `calendar:changed` on each socket's topic, checked to be
/// `change`; answers the occurrences.
async fn changes(
    watchers: &[(&cms_loadtest::PhxClient, &str)],
    change: &str,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (client, topic) in watchers {
        let f = client
            .next_event_named(topic, "calendar:changed", WAIT)
            .await
            .unwrap();
        assert_eq!(f.payload["change"], change, "{topic}");
        out.push(f.payload["occurrence"].clone());
    }
    out
}

#[actix_web::test]
async fn family_tutor_and_admin_sockets_see_every_change() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let second_parent = app.add_parent(&s.parent, "Second Parent").await;
    let family = format!("family:{}", s.parent.family_id.as_ref().unwrap());
    let tutor_topic = format!("tutor:{}", s.tutor.id);
    let fam = app.joined(&second_parent, &family).await;
    let tut = app.joined(&s.tutor, &tutor_topic).await;
    let adm = app.joined(&s.admin, "admin:monitor").await;

    // Another family's parent can't listen in; a parent can't join admin:monitor.
    let stranger = app.register("parent", "Stranger").await;
    let c = app.connect(&stranger).await;
    assert_eq!(
        c.join(&family, json!({})).await.unwrap().status,
        ReplyStatus::Error
    );
    assert_eq!(
        c.join("admin:monitor", json!({})).await.unwrap().status,
        ReplyStatus::Error
    );

    let o = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
    )
    .await;
    let watchers = [
        (&fam, family.as_str()),
        (&tut, tutor_topic.as_str()),
        (&adm, "admin:monitor"),
    ];
    for o2 in changes(&watchers, "booked").await {
        assert_eq!(o2["id"], o["id"]);
        assert_eq!(o2["start"], "2027-03-10T16:00:00Z");
    }

    let (status, _) = cancel(&app, &s.tutor, &o, json!({ "reason": "conference" })).await;
    assert_eq!(status, 200);
    for o2 in changes(&watchers, "cancelled").await {
        assert_eq!(o2["status"], "cancelled");
    }
    // Nobody else's calendar hears of it.
    let other_family = format!("family:{}", stranger.family_id.as_ref().unwrap());
    let c = app.joined(&stranger, &other_family).await;
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-11T16:00"),
    )
    .await;
    c.expect_no_event(
        &other_family,
        "calendar:changed",
        Duration::from_millis(300),
    )
    .await;
}

#[actix_web::test]
async fn each_role_sees_its_own_calendar() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 2).await;
    let other_tutor = approved_tutor(&app, &s.admin, "Olga Other").await;
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
    )
    .await;
    book_ok(
        &app,
        &s.parent,
        booking(&other_tutor, &[&s.kids[1]], "2027-03-10T16:00"),
    )
    .await;
    let count = |v: &serde_json::Value| v.as_array().unwrap().len();
    let q = "/api/v1/calendar?from=2027-03-01&to=2027-04-01";
    let (_, all) = app.get(q, Some(&s.parent.token)).await;
    assert_eq!(count(&all), 2, "one calendar for all the children");
    let (_, one) = app
        .get(
            &format!("{q}&student_id={}", s.kids[1]),
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(count(&one), 1);
    assert_eq!(one[0]["tutor"]["id"], other_tutor.id.as_str());
    let (_, mine) = app.get(q, Some(&s.tutor.token)).await;
    assert_eq!(count(&mine), 1);
    let (_, admin) = app.get(q, Some(&s.admin.token)).await;
    assert_eq!(count(&admin), 2);
    let (_, narrowed) = app
        .get(
            &format!("{q}&tutor_id={}", s.tutor.id),
            Some(&s.admin.token),
        )
        .await;
    assert_eq!(count(&narrowed), 1);
    let (status, _) = app
        .get(
            &format!("{q}&tutor_id={}", s.tutor.id),
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .get("/api/v1/calendar?from=yesterday", Some(&s.parent.token))
        .await;
    assert_eq!((status, body["error"].as_str()), (422, Some("invalid")));
}

#[actix_web::test]
async fn the_secret_feed_parses_and_rotating_it_retires_the_old_url() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let mut body = booking(&s.tutor, &[&s.kids[0]], "2027-03-22T16:00");
    body["recurrence"] = json!({ "freq": "weekly", "count": 2 });
    book_ok(&app, &s.parent, body).await;

    let (status, link) = app
        .get("/api/v1/me/calendar-feed", Some(&s.parent.token))
        .await;
    assert_eq!(status, 200, "{link}");
    let path = link["path"].as_str().unwrap().to_owned();
    let (_, again) = app
        .get("/api/v1/me/calendar-feed", Some(&s.parent.token))
        .await;
    assert_eq!(again["path"], path.as_str(), "stable until rotated");

    let resp = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = resp.text().await.unwrap();
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let cal = parser.next().unwrap().unwrap();
    assert_eq!(cal.events.len(), 2);
    let starts: Vec<(String, String)> = cal
        .events
        .iter()
        .map(|e| {
            let p = e.properties.iter().find(|p| p.name == "DTSTART").unwrap();
            let tzid = p
                .params
                .as_ref()
                .unwrap()
                .iter()
                .find(|(k, _)| k == "TZID")
                .unwrap();
            (p.value.clone().unwrap(), tzid.1[0].clone())
        })
        .collect();
    // Either side of the clock change, the same wall-clock time.
    assert_eq!(
        starts,
        [
            ("20270322T160000".to_owned(), "Europe/London".to_owned()),
            ("20270329T160000".to_owned(), "Europe/London".to_owned())
        ]
    );
    assert_eq!(cal.timezones.len(), 1);

    let (status, rotated) = app
        .post(
            "/api/v1/me/calendar-feed/rotate",
            Some(&s.parent.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(rotated["path"], path.as_str());
    assert_eq!(
        reqwest::get(format!("{}{path}", app.base))
            .await
            .unwrap()
            .status(),
        404
    );
    let new = format!("{}{}", app.base, rotated["path"].as_str().unwrap());
    assert_eq!(reqwest::get(new).await.unwrap().status(), 200);
    assert_eq!(
        reqwest::get(format!("{}/calendar/nope.ics", app.base))
            .await
            .unwrap()
            .status(),
        404
    );
}

#[actix_web::test]
async fn parents_find_approved_tutors_with_their_free_slots() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    // A pending tutor is not listed.
    let pending = app.register("tutor", "Pending Tutor").await;
    let (status, _) = app
        .put(
            "/api/v1/tutor/profile",
            Some(&pending.token),
            json!({ "bio": "", "timezone": "Europe/London",
                    "subjects": [{ "subject": "maths", "level": "gcse", "rate_pence": 3000 }] }),
        )
        .await;
    assert_eq!(status, 200);
    let search =
        "/api/v1/tutors?subject=Maths&level=GCSE&from=2027-03-10T00:00:00Z&to=2027-03-11T00:00:00Z";
    let (status, hits) = app.get(search, Some(&s.parent.token)).await;
    assert_eq!(status, 200, "{hits}");
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["id"], s.tutor.id.as_str());
    assert_eq!(hits[0]["rate_pence"], 4000);
    assert_eq!(hits[0]["next_slots"][0], "2027-03-10T08:00:00Z");
    let (_, none) = app
        .get(
            "/api/v1/tutors?subject=English&level=GCSE",
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(none.as_array().unwrap().len(), 0);
    let (status, _) = app
        .get(
            &format!("/api/v1/tutors/{}", pending.id),
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(status, 404, "pending profiles are not public");

    // Slots skip a booked lesson and the buffer after it.
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-10T10:00"),
    )
    .await;
    let (status, slots) = app
        .get(
            &format!(
                "/api/v1/tutors/{}/slots?from=2027-03-10T08:00:00Z&to=2027-03-10T13:00:00Z&duration_min=60",
                s.tutor.id
            ),
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(status, 200, "{slots}");
    let starts: Vec<&str> = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["start"].as_str().unwrap())
        .collect();
    // Starts in the window: up to 08:45 (ends 09:45, +15 buffer before
    // 10:00), then from 11:15 (the 10:00 lesson's end + buffer).
    assert_eq!(
        starts,
        [
            "2027-03-10T08:00:00Z",
            "2027-03-10T08:15:00Z",
            "2027-03-10T08:30:00Z",
            "2027-03-10T08:45:00Z",
            "2027-03-10T11:15:00Z",
            "2027-03-10T11:30:00Z",
            "2027-03-10T11:45:00Z",
            "2027-03-10T12:00:00Z",
            "2027-03-10T12:15:00Z",
            "2027-03-10T12:30:00Z",
            "2027-03-10T12:45:00Z"
        ]
    );

    // The admin review queue lists the pending tutor; approval lists them.
    let (_, queue) = app
        .get("/api/v1/admin/tutors?status=pending", Some(&s.admin.token))
        .await;
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == pending.id.as_str())
    );
    common::sched::set_status(&app, &s.admin, &pending, "approved").await;
    let (_, hits) = app.get(search, Some(&s.parent.token)).await;
    assert_eq!(hits.as_array().unwrap().len(), 2);
    let (status, _) = app
        .put(
            &format!("/api/v1/admin/tutors/{}/status", pending.id),
            Some(&s.parent.token),
            json!({ "status": "approved" }),
        )
        .await;
    assert_eq!(status, 403);
}

#[actix_web::test]
async fn availability_overrides_take_days_off_and_add_windows() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let weekly: Vec<_> = (1..=5)
        .map(|d| json!({ "day": d, "start": 960, "end": 1140 }))
        .collect();
    let (status, body) = app
        .put(
            "/api/v1/tutor/availability",
            Some(&s.tutor.token),
            json!({ "weekly": weekly, "overrides": [
                { "date": "2027-03-10", "kind": "off" },
                { "date": "2027-03-13", "kind": "extra", "start": 600, "end": 720 }
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, res) = app
        .post(
            "/api/v1/bookings",
            Some(&s.parent.token),
            booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
        )
        .await;
    assert_eq!(
        (status, res["clashes"][0]["reason"].as_str()),
        (409, Some("outside_availability"))
    );
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-13T10:00"),
    )
    .await;
    let (status, _) = app
        .put(
            "/api/v1/tutor/availability",
            Some(&s.tutor.token),
            json!({ "weekly": [{ "day": 8, "start": 0, "end": 60 }] }),
        )
        .await;
    assert_eq!(status, 422);
}
