//! Scheduling on the real server: the time model across clock changes, no
//! double booking under concurrency, group sizes, templates and prices.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::sched::{book_ok, booking, school, student};
use common::spawn_app_at;
use serde_json::{Value, json};

fn starts(v: &Value) -> Vec<(String, String)> {
    v["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["local_start"].as_str().unwrap().to_owned(),
                o["start"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_weekly_london_series_keeps_its_local_time_across_both_clock_changes() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let mut body = booking(&s.tutor, &[&s.kids[0]], "2027-03-15T16:00");
    body["recurrence"] = json!({ "freq": "weekly", "until": "2027-11-08" });
    let (status, res) = app
        .post("/api/v1/bookings", Some(&s.parent.token), body)
        .await;
    assert_eq!(status, 201, "{res}");
    assert!(res["series_id"].is_string());
    let got = starts(&res);
    assert_eq!(got.len(), 35, "15 Mar to 8 Nov 2027 weekly");
    for (local, utc) in &got {
        assert!(local.ends_with("T16:00:00"), "{local}");
        let date = &local[..10];
        // British Summer Time 2027: 28 March to 31 October.
        let bst = ("2027-03-28".."2027-10-31").contains(&date);
        let hour = if bst { "15:00:00" } else { "16:00:00" };
        assert!(utc.contains(&format!("T{hour}")), "{local} -> {utc}");
    }
    assert_eq!(got[1].1, "2027-03-22T16:00:00Z");
    assert_eq!(got[2].1, "2027-03-29T15:00:00Z");
    assert_eq!(got[32].1, "2027-10-25T15:00:00Z");
    assert_eq!(got[33].1, "2027-11-01T16:00:00Z");

    // The calendar shows the same times.
    let (status, cal) = app
        .get(
            "/api/v1/calendar?from=2027-03-28&to=2027-04-05",
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(status, 200, "{cal}");
    assert_eq!(cal.as_array().unwrap().len(), 1);
    assert_eq!(cal[0]["start"], "2027-03-29T15:00:00Z");
    assert_eq!(cal[0]["timezone"], "Europe/London");
}

#[actix_web::test]
async fn the_skipped_hour_is_refused_and_the_repeated_hour_is_the_earlier_instant() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    // Admins may book outside the tutor's hours; the time model still applies.
    let (status, res) = app
        .post(
            "/api/v1/bookings",
            Some(&s.admin.token),
            booking(&s.tutor, &[&s.kids[0]], "2027-03-28T01:30"),
        )
        .await;
    assert_eq!(status, 422, "{res}");
    assert_eq!(res["error"], "invalid");
    assert!(
        res["message"].as_str().unwrap().contains("does not exist"),
        "{res}"
    );
    // A series that would land in the gap is refused whole.
    let mut series = booking(&s.tutor, &[&s.kids[0]], "2027-03-14T01:30");
    series["recurrence"] = json!({ "freq": "weekly", "count": 3 });
    let (status, res) = app
        .post("/api/v1/bookings", Some(&s.admin.token), series)
        .await;
    assert_eq!(status, 422, "{res}");
    let (status, cal) = app
        .get(
            "/api/v1/calendar?from=2027-03-01&to=2027-04-01",
            Some(&s.admin.token),
        )
        .await;
    assert_eq!((status, cal.as_array().unwrap().len()), (200, 0), "{cal}");

    let o = book_ok(
        &app,
        &s.admin,
        booking(&s.tutor, &[&s.kids[0]], "2027-10-31T01:00"),
    )
    .await;
    assert_eq!(o["start"], "2027-10-31T00:00:00Z", "BST, the first 01:00");
    assert_eq!(o["local_start"], "2027-10-31T01:00:00");
}

#[actix_web::test]
async fn fifty_concurrent_requests_for_one_slot_give_one_booking() {
    // Fifty children in one family, past the default cap, to race fifty
    // bookings from one parent.
    let mut config = common::test_config();
    config.limits.children_per_family = 50;
    let (app, _clock) = common::spawn_app_at_with(config, "2027-03-01T09:00:00Z").await;
    let s = school(&app, 50).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for kid in &s.kids {
        let (app, body, token) = (
            app.clone(),
            booking(&s.tutor, &[kid], "2027-03-10T17:00"),
            s.parent.token.clone(),
        );
        tasks.push(actix_web::rt::spawn(async move {
            app.post("/api/v1/bookings", Some(&token), body).await
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => created += 1,
            409 => {
                conflicts += 1;
                assert_eq!(body["clashes"][0]["reason"], "tutor_busy", "{body}");
                assert!(body["clashes"][0]["occurrence_id"].is_string(), "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, conflicts), (1, 49));
    let (_, cal) = app
        .get(
            "/api/v1/calendar?from=2027-03-10&to=2027-03-11",
            Some(&s.tutor.token),
        )
        .await;
    assert_eq!(cal.as_array().unwrap().len(), 1, "{cal}");
}

#[actix_web::test]
async fn tutors_and_students_never_overlap_and_buffers_hold() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 2).await;
    let (a, b) = (s.kids[0].as_str(), s.kids[1].as_str());
    let first = book_ok(&app, &s.parent, booking(&s.tutor, &[a], "2027-03-10T16:00")).await;

    // The tutor's 15-minute buffer holds 17:00–17:15.
    let (status, res) = app
        .post(
            "/api/v1/bookings",
            Some(&s.parent.token),
            booking(&s.tutor, &[b], "2027-03-10T17:00"),
        )
        .await;
    assert_eq!(status, 409, "{res}");
    assert_eq!(res["clashes"][0]["occurrence_id"], first["id"]);
    book_ok(&app, &s.parent, booking(&s.tutor, &[b], "2027-03-10T17:15")).await;

    // The same student with another tutor at an overlapping time.
    let other = common::sched::approved_tutor(&app, &s.admin, "Olga Other").await;
    let (status, res) = app
        .post(
            "/api/v1/bookings",
            Some(&s.parent.token),
            booking(&other, &[a], "2027-03-10T16:30"),
        )
        .await;
    assert_eq!(status, 409, "{res}");
    assert_eq!(res["clashes"][0]["reason"], "student_busy");
    // Back to back is fine for a student.
    book_ok(&app, &s.parent, booking(&other, &[a], "2027-03-10T17:00")).await;

    // A series with one clash: refused whole, or booked around it.
    let mut series = booking(&s.tutor, &[a], "2027-03-03T16:00");
    series["recurrence"] = json!({ "freq": "weekly", "count": 3 });
    let (status, res) = app
        .post("/api/v1/bookings", Some(&s.parent.token), series.clone())
        .await;
    assert_eq!(status, 409, "{res}");
    assert_eq!(res["clashes"].as_array().unwrap().len(), 1);
    assert_eq!(res["clashes"][0]["local_start"], "2027-03-10T16:00:00");
    series["skip_conflicts"] = json!(true);
    let (status, res) = app
        .post("/api/v1/bookings", Some(&s.parent.token), series)
        .await;
    assert_eq!(status, 201, "{res}");
    let booked: Vec<_> = starts(&res).into_iter().map(|(l, _)| l).collect();
    assert_eq!(booked, ["2027-03-03T16:00:00", "2027-03-17T16:00:00"]);
    assert_eq!(res["skipped"][0]["local_start"], "2027-03-10T16:00:00");

    // Parents book inside the tutor's hours (08:00–21:00).
    let (status, res) = app
        .post(
            "/api/v1/bookings",
            Some(&s.parent.token),
            booking(&s.tutor, &[b], "2027-03-11T21:00"),
        )
        .await;
    assert_eq!(status, 409, "{res}");
    assert_eq!(res["clashes"][0]["reason"], "outside_availability");
}

#[actix_web::test]
async fn a_group_lesson_takes_up_to_four_at_the_group_rate() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 2).await;
    let group = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0], &s.kids[1]], "2027-03-12T16:00"),
    )
    .await;
    assert_eq!(group["kind"], "group");
    assert_eq!(
        group["price_pence"], 2500,
        "the group rate per student for an hour"
    );
    let id = group["id"].as_str().unwrap();

    // Two peers from another family join; a fifth student is refused.
    let other = app.register("parent", "Peer Parent").await;
    let peers = [
        student(&app, &other, "Peer 1").await,
        student(&app, &other, "Peer 2").await,
        student(&app, &other, "Peer 3").await,
    ];
    let path = format!("/api/v1/lessons/{id}/students");
    let (status, res) = app
        .post(
            &path,
            Some(&other.token),
            json!({ "student_ids": [peers[0], peers[1]] }),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["students"].as_array().unwrap().len(), 4);
    let (status, res) = app
        .post(
            &path,
            Some(&other.token),
            json!({ "student_ids": [peers[2]] }),
        )
        .await;
    assert_eq!(status, 409, "{res}");
    assert!(
        res["message"].as_str().unwrap().contains("at most 4"),
        "{res}"
    );

    // Five at once is refused too, and nothing is booked.
    let kid3 = student(&app, &s.parent, "Kid 3").await;
    let five = [&s.kids[0], &s.kids[1], &kid3, &peers[0], &peers[1]].map(|s| s.as_str());
    let (status, res) = app
        .post(
            "/api/v1/bookings",
            Some(&s.admin.token),
            booking(&s.tutor, &five, "2027-03-13T10:00"),
        )
        .await;
    assert_eq!(status, 409, "{res}");

    // Both families see it in their calendars.
    for p in [&s.parent, &other] {
        let (_, cal) = app
            .get(
                "/api/v1/calendar?from=2027-03-12&to=2027-03-13",
                Some(&p.token),
            )
            .await;
        assert_eq!(cal.as_array().unwrap().len(), 1, "{cal}");
    }
}

#[actix_web::test]
async fn templates_set_duration_and_price_and_suspension_stops_new_bookings() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let (status, t) = app
        .post(
            "/api/v1/admin/templates",
            Some(&s.admin.token),
            json!({ "name": "Extended session 90 min", "duration_min": 90, "price_pence": 5500 }),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    let mut body = booking(&s.tutor, &[&s.kids[0]], "2027-03-09T16:00");
    body.as_object_mut().unwrap().remove("duration_min");
    body["template_id"] = t["id"].clone();
    let o = book_ok(&app, &s.parent, body).await;
    assert_eq!(
        (o["duration_min"].as_u64(), o["price_pence"].as_i64()),
        (Some(90), Some(5500))
    );
    assert_eq!(o["end"], "2027-03-09T17:30:00Z");

    // Without a template: the hourly rate for the length (45 min of £40/h).
    let mut body = booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00");
    body["duration_min"] = json!(45);
    assert_eq!(book_ok(&app, &s.parent, body).await["price_pence"], 3000);

    common::sched::set_status(&app, &s.admin, &s.tutor, "suspended").await;
    let (status, res) = app
        .post(
            "/api/v1/bookings",
            Some(&s.parent.token),
            booking(&s.tutor, &[&s.kids[0]], "2027-03-11T16:00"),
        )
        .await;
    assert_eq!(status, 409, "{res}");
    let (_, cal) = app
        .get(
            "/api/v1/calendar?from=2027-03-01&to=2027-04-01",
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(cal.as_array().unwrap().len(), 2, "history stays: {cal}");
}

#[actix_web::test]
async fn bad_booking_requests_get_clear_errors() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let stranger = app.register("parent", "Stranger").await;
    let cases: Vec<(&common::User, Value, u16)> = vec![
        (&s.parent, json!({ "timezone": "Mars/Base" }), 422),
        (&s.parent, json!({ "start": "2027-03-10T16:05" }), 422),
        (&s.parent, json!({ "start": "tomorrow" }), 422),
        (&s.parent, json!({ "start": "2027-02-10T16:00" }), 422),
        (&s.parent, json!({ "duration_min": 50 }), 422),
        (&s.parent, json!({ "subject": "Latin" }), 422),
        (&s.parent, json!({ "surprise": true }), 422),
        (
            &s.parent,
            json!({ "recurrence": { "freq": "weekly" } }),
            422,
        ),
        (
            &s.parent,
            json!({ "recurrence": { "freq": "weekly", "count": 500 } }),
            422,
        ),
        // Another family's child is answered as no child at all.
        (&stranger, json!({}), 404),
        (&s.tutor, json!({}), 403),
        (&s.parent, json!({ "tutor_id": "nobody" }), 404),
    ];
    for (who, patch, want) in cases {
        let mut body = booking(&s.tutor, &[kid], "2027-03-10T16:00");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, res) = app
            .post("/api/v1/bookings", Some(&who.token), body.clone())
            .await;
        assert_eq!(status, want, "{body} -> {res}");
        assert!(
            res["error"].is_string() && res["message"].is_string(),
            "{res}"
        );
    }
    let (_, cal) = app
        .get(
            "/api/v1/calendar?from=2027-03-01&to=2027-04-01",
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(
        cal.as_array().unwrap().len(),
        0,
        "nothing half-booked: {cal}"
    );
}

#[actix_web::test]
async fn admins_manage_the_subject_catalogue() {
    let (app, _clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let (_, subjects) = app.get("/api/v1/subjects", Some(&s.parent.token)).await;
    let names: Vec<String> = subjects
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            format!(
                "{} {}",
                x["name"].as_str().unwrap(),
                x["level"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "English A-Level",
            "English GCSE",
            "Maths A-Level",
            "Maths GCSE",
            "Science A-Level",
            "Science GCSE"
        ]
    );
    let physics = json!({ "name": "Physics", "level": "A-Level" });
    let (status, _) = app
        .post(
            "/api/v1/admin/subjects",
            Some(&s.parent.token),
            physics.clone(),
        )
        .await;
    assert_eq!(status, 403);
    let (status, row) = app
        .post(
            "/api/v1/admin/subjects",
            Some(&s.admin.token),
            physics.clone(),
        )
        .await;
    assert_eq!(status, 201, "{row}");
    let (status, _) = app
        .post("/api/v1/admin/subjects", Some(&s.admin.token), physics)
        .await;
    assert_eq!(status, 409);

    // Retiring Maths GCSE stops new bookings of it; it can be restored.
    let (status, _) = app
        .put(
            "/api/v1/admin/subjects/maths_gcse",
            Some(&s.admin.token),
            json!({ "active": false }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, res) = app
        .post(
            "/api/v1/bookings",
            Some(&s.parent.token),
            booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
        )
        .await;
    assert_eq!(status, 422, "{res}");
    app.put(
        "/api/v1/admin/subjects/maths_gcse",
        Some(&s.admin.token),
        json!({ "active": true }),
    )
    .await;
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00"),
    )
    .await;
}
