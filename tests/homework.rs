//! Homework on the real server with time from a ManualClock: a tutor sets
//! it from a lesson with a worksheet, the family is told, one child hands
//! in on time (and again), the other is reminded, then marked overdue, then
//! hands in late; the tutor grades; the figures add up; files are for the
//! family and the tutor only; termly reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::form::{download, post_form};
use common::sched::{approved_tutor, book_ok, booking, student};
use common::{TestApp, User, WAIT, admin, spawn_app_at};
use serde_json::{Value, json};

const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\nWorksheet 3: fractions\n%%EOF\n";

/// The next in-app notification of `kind` on the user's topic.
async fn notified(inbox: &cms_loadtest::PhxClient, topic: &str, kind: &str) -> Value {
    loop {
        let n = inbox
            .next_event_named(topic, "notification", WAIT)
            .await
            .unwrap_or_else(|e| panic!("no {kind} notification: {e}"));
        if n.payload["kind"] == kind {
            return n.payload;
        }
    }
}

async fn job_status(app: &TestApp, key: &str) -> String {
    let store = app.store.as_ref().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let job = store.job(key).await.unwrap();
        let status = job.status.as_str().to_owned();
        if status != "pending" || tokio::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn hand_in(app: &TestApp, parent: &User, hw: &str, kid: &str, text: &str) -> (u16, Value) {
    post_form(
        app,
        &format!("/api/v1/homework/{hw}/submissions"),
        parent,
        &[
            ("student_id", None, kid.as_bytes()),
            ("text", None, text.as_bytes()),
        ],
    )
    .await
}

async fn grade(
    app: &TestApp,
    tutor: &User,
    hw: &str,
    kid: &str,
    score: u32,
    max: u32,
) -> (u16, Value) {
    app.post(
        &format!("/api/v1/homework/{hw}/submissions/{kid}/grade"),
        Some(&tutor.token),
        json!({ "score": score, "max_score": max, "feedback": "Good work on the common denominators." }),
    )
    .await
}

#[actix_web::test]
async fn homework_is_set_handed_in_reminded_graded_and_counted() {
    let (app, clock) = spawn_app_at("2026-12-04T09:00:00Z").await;
    let boss = admin(&app).await;
    let tutor = approved_tutor(&app, &boss, "Tess Tutor").await;
    let other_tutor = approved_tutor(&app, &boss, "Otto Tutor").await;
    let parent = app.register("parent", "Pat Parent").await;
    let ann = student(&app, &parent, "Ann").await;
    let ben = student(&app, &parent, "Ben").await;
    let stranger = app.register("parent", "Sam Stranger").await;
    let sams_kid = student(&app, &stranger, "Cal").await;
    let family_topic = format!("family:{}", parent.family_id.as_deref().unwrap());
    let family = app.joined(&parent, &family_topic).await;
    let user_topic = format!("user:{}", parent.id);
    let inbox = app.joined(&parent, &user_topic).await;

    let lesson = book_ok(
        &app,
        &parent,
        booking(&tutor, &[&ann, &ben], "2026-12-05T16:00:00Z"),
    )
    .await;
    let lesson_id = lesson["id"].as_str().unwrap();

    // Only the lesson's tutor sets homework for it.
    let form = [
        ("title", None, b"Fractions".as_slice()),
        (
            "instructions",
            None,
            b"Worksheet 3, questions 1-10.".as_slice(),
        ),
        ("due_at", None, b"2026-12-10T17:00:00Z".as_slice()),
        ("file", Some("worksheet.pdf"), PDF),
    ];
    let path = format!("/api/v1/lessons/{lesson_id}/homework");
    let (status, _) = post_form(&app, &path, &other_tutor, &form).await;
    assert_eq!(status, 404);
    let (status, hw) = post_form(&app, &path, &tutor, &form).await;
    assert_eq!(status, 201, "{hw}");
    let hw_id = hw["id"].as_str().unwrap().to_owned();
    assert_eq!(hw["students"].as_array().unwrap().len(), 2);
    let pushed = family
        .next_event_named(&family_topic, "homework:set", WAIT)
        .await
        .unwrap();
    assert_eq!(pushed.payload["homework"]["id"], hw_id.as_str());
    let n = notified(&inbox, &user_topic, "homework_set").await;
    assert!(n["text"].as_str().unwrap().contains("Fractions"), "{n}");

    // The worksheet: for the family and the tutor; 404 for others.
    let sheet = hw["attachments"][0]["id"].as_str().unwrap();
    for (who, status) in [
        (&parent, 200),
        (&tutor, 200),
        (&boss, 200),
        (&stranger, 404),
        (&other_tutor, 404),
    ] {
        assert_eq!(download(&app, who, sheet).await.status().as_u16(), status);
    }
    // Another family cannot see or hand in the homework.
    let (status, _) = app
        .get(&format!("/api/v1/homework/{hw_id}"), Some(&stranger.token))
        .await;
    assert_eq!(status, 404);
    let (status, _) = hand_in(&app, &stranger, &hw_id, &sams_kid, "mine").await;
    assert_eq!(status, 404);

    // Ann hands in on time, with a file, then again (until graded).
    clock.set("2026-12-08T18:00:00Z".parse().unwrap());
    let (status, first) = post_form(
        &app,
        &format!("/api/v1/homework/{hw_id}/submissions"),
        &parent,
        &[
            ("student_id", None, ann.as_bytes()),
            ("text", None, b"Answers attached."),
            ("file", Some("answers.txt"), b"1) 3/4\n2) 5/8\n"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let answers = first["files"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(first["files"][0]["media_type"], "text/plain");
    for (who, status) in [
        (&parent, 200),
        (&tutor, 200),
        (&stranger, 404),
        (&other_tutor, 404),
    ] {
        assert_eq!(
            download(&app, who, &answers).await.status().as_u16(),
            status
        );
    }
    clock.set("2026-12-09T10:00:00Z".parse().unwrap());
    let (status, again) = hand_in(&app, &parent, &hw_id, &ann, "Answers, corrected.").await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["first_submitted_at"], first["submitted_at"]);
    assert_eq!(again["text"], "Answers, corrected.");

    // A day before the due time: Ben is reminded; Ann's reminder was
    // withdrawn by her hand-in.
    clock.set("2026-12-09T17:00:01Z".parse().unwrap());
    let n = notified(&inbox, &user_topic, "homework_due").await;
    assert!(
        n["text"].as_str().unwrap().contains("Ben's homework"),
        "{n}"
    );
    assert_eq!(
        job_status(&app, &format!("{hw_id}.{ben}.due")).await,
        "sent"
    );
    assert_eq!(
        job_status(&app, &format!("{hw_id}.{ann}.due")).await,
        "withdrawn"
    );

    // At the due time: Ben's is overdue, once.
    clock.set("2026-12-10T17:00:01Z".parse().unwrap());
    let n = notified(&inbox, &user_topic, "homework_overdue").await;
    assert!(
        n["text"].as_str().unwrap().contains("Ben's homework"),
        "{n}"
    );
    assert_eq!(
        job_status(&app, &format!("{hw_id}.{ben}.overdue")).await,
        "sent"
    );
    assert_eq!(
        job_status(&app, &format!("{hw_id}.{ann}.overdue")).await,
        "withdrawn"
    );

    // Ben hands in late.
    clock.set("2026-12-11T09:00:00Z".parse().unwrap());
    let (status, _) = hand_in(&app, &parent, &hw_id, &ben, "Sorry it is late.").await;
    assert_eq!(status, 201);

    // Graded: the family is told; no more hand-ins for Ann.
    let (status, graded) = grade(&app, &tutor, &hw_id, &ann, 8, 10).await;
    assert_eq!(status, 200, "{graded}");
    assert_eq!(graded["status"], "graded");
    let n = notified(&inbox, &user_topic, "homework_graded").await;
    assert!(n["text"].as_str().unwrap().contains("8 out of 10"), "{n}");
    let (status, _) = grade(&app, &tutor, &hw_id, &ben, 21, 20).await;
    assert_eq!(status, 422);
    let (status, _) = grade(&app, &tutor, &hw_id, &ben, 15, 20).await;
    assert_eq!(status, 200);
    let (status, _) = grade(&app, &other_tutor, &hw_id, &ben, 15, 20).await;
    assert_eq!(status, 404);
    let (status, _) = hand_in(&app, &parent, &hw_id, &ann, "one more go").await;
    assert_eq!(status, 409);

    // A second homework nobody hands in: missing once past due.
    let form2 = [
        ("title", None, b"Decimals".as_slice()),
        ("due_at", None, b"2026-12-12T17:00:00Z".as_slice()),
    ];
    let (status, _) = post_form(&app, &path, &tutor, &form2).await;
    assert_eq!(status, 201);
    clock.set("2026-12-13T09:00:00Z".parse().unwrap());

    let (status, p) = app
        .get(
            &format!("/api/v1/students/{ann}/progress"),
            Some(&parent.token),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    let counts = |p: &Value| {
        [
            "set",
            "submitted",
            "on_time",
            "late",
            "missing",
            "open",
            "graded",
        ]
        .map(|k| p[k].as_u64().unwrap())
    };
    assert_eq!(counts(&p), [2, 1, 1, 0, 1, 0, 1]);
    assert_eq!(p["average_percent"], 80);
    let (_, p) = app
        .get(
            &format!("/api/v1/students/{ben}/progress"),
            Some(&tutor.token),
        )
        .await;
    assert_eq!(counts(&p), [2, 1, 0, 1, 1, 0, 1]);
    assert_eq!(p["average_percent"], 75);
    // By the week of the due date: both pieces fall in the week of Mon 7 Dec.
    assert_eq!(p["by_week"][0]["week_of"], "2026-12-07");
    let (_, t) = app
        .get("/api/v1/tutor/homework/stats", Some(&tutor.token))
        .await;
    assert_eq!(counts(&t), [4, 2, 1, 1, 2, 0, 2]);
    // (80 + 75) / 2 = 77.5, in whole percent.
    assert_eq!(t["average_percent"], 78);
    // Progress is for the child's parents, tutors and admins only.
    let (status, _) = app
        .get(
            &format!("/api/v1/students/{ann}/progress"),
            Some(&stranger.token),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get(
            &format!("/api/v1/students/{ann}/progress"),
            Some(&other_tutor.token),
        )
        .await;
    assert_eq!(status, 404);

    // The lists: per child for the parent, per lesson and child for the tutor.
    let (_, list) = app
        .get(
            &format!("/api/v1/students/{ann}/homework"),
            Some(&parent.token),
        )
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let (_, list) = app
        .get(
            &format!("/api/v1/tutor/homework?lesson_id={lesson_id}&student_id={ben}"),
            Some(&tutor.token),
        )
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
}

#[actix_web::test]
async fn a_tutor_writes_a_termly_report_the_family_reads() {
    let (app, _clock) = spawn_app_at("2026-12-04T09:00:00Z").await;
    let boss = admin(&app).await;
    let tutor = approved_tutor(&app, &boss, "Tess Tutor").await;
    let other_tutor = approved_tutor(&app, &boss, "Otto Tutor").await;
    let parent = app.register("parent", "Pat Parent").await;
    let ann = student(&app, &parent, "Ann").await;
    let stranger = app.register("parent", "Sam Stranger").await;
    book_ok(
        &app,
        &parent,
        booking(&tutor, &[&ann], "2026-12-05T16:00:00Z"),
    )
    .await;
    let report = json!({
        "term": "Autumn 2026",
        "sections": [{ "heading": "Progress", "text": "Ann has grown confident with fractions.\nNext: decimals." }],
        "attainment": [{ "subject": "GCSE Maths", "level": "Grade 6" }]
    });
    let path = format!("/api/v1/students/{ann}/reports");
    let (status, _) = app
        .post(&path, Some(&other_tutor.token), report.clone())
        .await;
    assert_eq!(status, 404, "a tutor who does not teach Ann");
    let (status, written) = app.post(&path, Some(&tutor.token), report).await;
    assert_eq!(status, 201, "{written}");
    let (status, read) = app.get(&path, Some(&parent.token)).await;
    assert_eq!(status, 200);
    assert_eq!(read[0]["attainment"][0]["level"], "Grade 6");
    assert_eq!(read[0]["tutor_name"], "Tess Tutor");
    let (status, _) = app.get(&path, Some(&stranger.token)).await;
    assert_eq!(status, 404);
    let (status, all) = app.get("/api/v1/admin/reports", Some(&boss.token)).await;
    assert_eq!(status, 200);
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (status, _) = app.get("/api/v1/admin/reports", Some(&parent.token)).await;
    assert_eq!(status, 403);
}
