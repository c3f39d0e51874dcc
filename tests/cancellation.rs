//! The cancellation policy on the real server, with time from an injected
//! clock: the exact 24-hour boundary, makeup credits earned, spent and
//! expired, reschedules that happen whole or not at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Utc};
use common::sched::{book_ok, booking, cancel, outcome, school};
use common::spawn_app_at;
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn credits(app: &common::TestApp, parent: &common::User) -> Vec<String> {
    let (status, body) = app.get("/api/v1/credits", Some(&parent.token)).await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_parent_cancelling_at_24h_plus_and_minus_one_second() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let early = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
    let late = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-11T16:00"),
    )
    .await;

    // 24 h + 1 s before 16:00 GMT on 10 March.
    clock.set(at("2027-03-09T15:59:59Z"));
    let (status, res) = cancel(&app, &s.parent, &early, json!({ "reason": "school trip" })).await;
    assert_eq!(status, 200, "{res}");
    // Free, and no credit: nothing was paid in advance.
    assert_eq!(outcome(&res), (Some(false), Some(0)));
    let o = &res["occurrences"][0];
    assert_eq!(o["status"], "cancelled");
    assert_eq!(o["cancellations"][0]["notice_secs"], 24 * 3600 + 1);
    assert_eq!(o["cancellations"][0]["by_role"], "parent");

    // 24 h − 1 s before the second.
    clock.set(at("2027-03-10T16:00:01Z"));
    let (status, res) = cancel(&app, &s.parent, &late, json!({ "reason": "ill" })).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(outcome(&res), (Some(true), Some(0)));
    assert_eq!(
        res["occurrences"][0]["cancellations"][0]["chargeable"],
        true
    );
    assert!(credits(&app, &s.parent).await.is_empty());

    // Cancelling twice, or after the start, is refused.
    let (status, _) = cancel(&app, &s.parent, &late, json!({ "reason": "again" })).await;
    assert_eq!(status, 409);
    // The freed slot can be booked again.
    clock.set(at("2027-03-05T09:00:00Z"));
    book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
}

#[actix_web::test]
async fn a_tutor_cancelling_late_still_earns_the_family_a_credit_which_is_spent_once() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
    clock.set(at("2027-03-10T14:00:00Z"));
    let (status, res) = cancel(&app, &s.tutor, &lesson, json!({ "reason": "tutor unwell" })).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(outcome(&res), (Some(false), Some(1)));
    assert_eq!(credits(&app, &s.parent).await, ["available"]);

    // The makeup lesson is paid by the credit.
    let mut makeup = booking(&s.tutor, &[kid], "2027-03-17T16:00");
    makeup["use_credit"] = json!(true);
    let o = book_ok(&app, &s.parent, makeup.clone()).await;
    assert_eq!(o["credit_ids"].as_array().unwrap().len(), 1);
    assert_eq!(credits(&app, &s.parent).await, ["used"]);

    // There is none left for another.
    makeup["start"] = json!("2027-03-18T16:00");
    let (status, res) = app
        .post("/api/v1/bookings", Some(&s.parent.token), makeup)
        .await;
    assert_eq!(status, 409, "{res}");
    assert!(res["message"].as_str().unwrap().contains("credit"), "{res}");
}

#[actix_web::test]
async fn credits_expire_after_the_configured_period() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
    cancel(&app, &s.tutor, &lesson, json!({ "reason": "tutor away" })).await;
    assert_eq!(credits(&app, &s.parent).await, ["available"]);
    clock.set(at("2027-06-01T09:00:00Z"));
    assert_eq!(
        credits(&app, &s.parent).await,
        ["expired"],
        "90 days by default"
    );
    let mut makeup = booking(&s.tutor, &[kid], "2027-06-10T16:00");
    makeup["use_credit"] = json!(true);
    let (status, _) = app
        .post("/api/v1/bookings", Some(&s.parent.token), makeup)
        .await;
    assert_eq!(status, 409);
}

#[actix_web::test]
async fn ending_a_series_cancels_the_rest_and_keeps_the_past() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let mut body = booking(&s.tutor, &[&s.kids[0]], "2027-03-08T16:00");
    body["recurrence"] = json!({ "freq": "weekly", "count": 4 });
    let (_, res) = app
        .post("/api/v1/bookings", Some(&s.parent.token), body)
        .await;
    let third = res["occurrences"][2]["id"].as_str().unwrap().to_owned();
    clock.set(at("2027-03-16T09:00:00Z"));
    let (status, res) = app
        .post(
            &format!("/api/v1/lessons/{third}/cancel"),
            Some(&s.parent.token),
            json!({ "reason": "moving away", "scope": "following" }),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["occurrences"].as_array().unwrap().len(), 2);
    assert_eq!(res["credits_issued"], 0, "ending a series earns no credits");
    let (_, cal) = app
        .get(
            "/api/v1/calendar?from=2027-03-01&to=2027-04-01",
            Some(&s.parent.token),
        )
        .await;
    let statuses: Vec<&str> = cal
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    // The past two are left alone by the cancellation (nobody started
    // them, so the lesson timers make them no-shows in their own time).
    assert!(
        statuses[..2].iter().all(|s| *s != "cancelled"),
        "{statuses:?}"
    );
    assert_eq!(statuses[2..], ["cancelled", "cancelled"]);
}

#[actix_web::test]
async fn a_reschedule_moves_both_or_neither() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 2).await;
    let (a, b) = (s.kids[0].as_str(), s.kids[1].as_str());
    let lesson = book_ok(&app, &s.parent, booking(&s.tutor, &[a], "2027-03-10T16:00")).await;
    let blocker = book_ok(&app, &s.parent, booking(&s.tutor, &[b], "2027-03-10T18:00")).await;
    let id = lesson["id"].as_str().unwrap();
    let path = format!("/api/v1/lessons/{id}/reschedule");

    // Into the other lesson's time: refused, and the original is untouched.
    let (status, res) = app
        .post(
            &path,
            Some(&s.parent.token),
            json!({ "start": "2027-03-10T17:30", "reason": "football" }),
        )
        .await;
    assert_eq!(status, 409, "{res}");
    assert_eq!(res["clashes"][0]["occurrence_id"], blocker["id"]);
    let (_, same) = app
        .get(&format!("/api/v1/lessons/{id}"), Some(&s.parent.token))
        .await;
    assert_eq!(
        (same["status"].as_str(), same["version"].as_u64()),
        (Some("booked"), Some(1))
    );
    // …and still holds its slot.
    let (status, _) = app
        .post(
            "/api/v1/bookings",
            Some(&s.parent.token),
            booking(&s.tutor, &[b], "2027-03-10T16:00"),
        )
        .await;
    assert_eq!(status, 409);

    // A free time: the original is marked moved and its slot released.
    let (status, res) = app
        .post(
            &path,
            Some(&s.parent.token),
            json!({ "start": "2027-03-11T16:00", "reason": "football" }),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["previous"]["status"], "rescheduled");
    assert_eq!(res["previous"]["rescheduled_to"], res["occurrence"]["id"]);
    assert_eq!(res["occurrence"]["rescheduled_from"], id);
    assert_eq!(res["occurrence"]["start"], "2027-03-11T16:00:00Z");
    book_ok(&app, &s.parent, booking(&s.tutor, &[b], "2027-03-10T16:00")).await;

    // Inside the notice period a parent cancels instead of moving.
    clock.set(at("2027-03-11T10:00:00Z"));
    let moved = res["occurrence"]["id"].as_str().unwrap();
    let (status, res) = app
        .post(
            &format!("/api/v1/lessons/{moved}/reschedule"),
            Some(&s.parent.token),
            json!({ "start": "2027-03-12T16:00", "reason": "late" }),
        )
        .await;
    assert_eq!(status, 409, "{res}");
}

#[actix_web::test]
async fn a_parent_leaving_a_shared_group_lesson_withdraws_only_their_children() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let mut body = booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00");
    body["group"] = json!(true);
    let group = book_ok(&app, &s.parent, body).await;
    let id = group["id"].as_str().unwrap();
    let other = app.register("parent", "Peer Parent").await;
    let peer = common::sched::student(&app, &other, "Peer").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/lessons/{id}/students"),
            Some(&other.token),
            json!({ "student_ids": [peer] }),
        )
        .await;
    assert_eq!(status, 200);
    clock.set(at("2027-03-10T12:00:00Z"));
    let (status, res) = app
        .post(
            &format!("/api/v1/lessons/{id}/cancel"),
            Some(&other.token),
            json!({ "reason": "clash" }),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["chargeable"], true, "late: their seat is chargeable");
    let o = &res["occurrences"][0];
    assert_eq!(o["status"], "booked", "the lesson goes on for the others");
    assert_eq!(o["students"].as_array().unwrap().len(), 1);
    assert_eq!(o["students"][0]["id"], s.kids[0].as_str());
}

/// The farm found by probing: join another family's group lesson days
/// ahead, cancel with notice, collect a makeup credit, book with it, repeat.
/// A credit now only comes back to a seat that was paid with one.
#[actix_web::test]
async fn the_credit_farm_cycle_earns_nothing_and_a_prepaid_seat_gets_its_credit_back() {
    let (app, clock) = spawn_app_at("2027-03-01T09:00:00Z").await;
    let s = school(&app, 1).await;
    let mut body = booking(&s.tutor, &[&s.kids[0]], "2027-03-10T16:00");
    body["group"] = json!(true);
    let group = book_ok(&app, &s.parent, body).await;
    let id = group["id"].as_str().unwrap();

    let farmer = app.register("parent", "Farmer Parent").await;
    let kid = common::sched::student(&app, &farmer, "Farmed").await;
    for _ in 0..3 {
        let (status, res) = app
            .post(
                &format!("/api/v1/lessons/{id}/students"),
                Some(&farmer.token),
                json!({ "student_ids": [kid] }),
            )
            .await;
        assert_eq!(status, 200, "{res}");
        let (status, res) = app
            .post(
                &format!("/api/v1/lessons/{id}/cancel"),
                Some(&farmer.token),
                json!({ "reason": "changed my mind" }),
            )
            .await;
        assert_eq!(status, 200, "{res}");
        assert_eq!(outcome(&res), (Some(false), Some(0)), "{res}");
    }
    assert!(credits(&app, &farmer).await.is_empty());
    let mut spend = booking(&s.tutor, &[&kid], "2027-03-12T16:00");
    spend["use_credit"] = json!(true);
    let (status, res) = app
        .post("/api/v1/bookings", Some(&farmer.token), spend)
        .await;
    assert_eq!(status, 409, "{res}");

    // A lesson the family was owed and lost earns a credit; the makeup it
    // pays for, cancelled with notice, gives that credit back, once.
    let owed = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-03-11T16:00"),
    )
    .await;
    cancel(&app, &s.tutor, &owed, json!({ "reason": "tutor unwell" })).await;
    let mut makeup = booking(&s.tutor, &[&s.kids[0]], "2027-03-18T16:00");
    makeup["use_credit"] = json!(true);
    let paid = book_ok(&app, &s.parent, makeup).await;
    assert_eq!(credits(&app, &s.parent).await, ["used"]);
    // Days ahead, and before the group lesson's room opens: past it, the
    // lesson timers would make it a no-show, with a credit of its own.
    clock.set(at("2027-03-09T09:00:00Z"));
    let (status, res) = cancel(&app, &s.parent, &paid, json!({ "reason": "away" })).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(outcome(&res), (Some(false), Some(1)));
    let mut states = credits(&app, &s.parent).await;
    states.sort();
    assert_eq!(states, ["available", "used"]);
}
