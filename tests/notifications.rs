//! Providers and people: the exact Twilio requests, retries then failure
//! pushed to admins, a lost answer not sent twice, STOP/START webhooks with
//! real and forged signatures, in-app notifications, preferences and phone
//! numbers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use base64::Engine;
use common::notify::{FROM, SID, TOKEN, instant, rig, set_phone};
use common::sched::{book_ok, booking, school};
use serde_json::json;

const LESSON: &str = "2027-03-10T16:00";
const PHONE: &str = "+447400123456";

#[actix_web::test]
async fn twilio_gets_a_form_post_with_basic_auth_and_the_text_in_the_readers_zone() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 2).await;
    // The parent types a national number and reads times in New York.
    let me = set_phone(&r.app, &s.parent, "07400 123456").await;
    assert_eq!(me["phone"], PHONE);
    let (status, body) = r
        .app
        .request(
            "PATCH",
            "/api/v1/me",
            Some(&s.parent.token),
            Some(json!({ "timezone": "America/New_York" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    book_ok(&r.app, &s.parent, booking(&s.tutor, &[&s.kids[0]], LESSON)).await;
    r.clock.set(instant("2027-03-09T16:00:00Z"));
    let sent = r.twilio.wait_for_sent(1, common::notify::WAIT).await;
    assert_eq!(sent.len(), 1);
    let req = &sent[0];
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.path,
        format!("/2010-04-01/Accounts/{SID}/Messages.json")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    assert_eq!(
        req.authorization.as_deref(),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(req.field("To"), Some(PHONE));
    assert_eq!(req.field("From"), Some(FROM));
    let text = req.field("Body").unwrap();
    // 16:00 GMT is 11:00 in New York (EST) on 10 March 2027.
    assert!(text.contains("Wed 10 Mar 2027, 11:00 EST"), "{text}");
    assert!(
        text.contains("GCSE Maths for Kid 0 with Tom Tutor"),
        "{text}"
    );
    assert!(
        text.contains("Free cancellation until Tue 9 Mar 2027, 11:00 EST"),
        "{text}"
    );
}

#[actix_web::test]
async fn a_failing_provider_is_retried_with_backoff_then_marked_failed_and_admins_told() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 2).await;
    set_phone(&r.app, &s.parent, PHONE).await;
    let monitor = r.app.joined(&s.admin, "admin:monitor").await;
    let lesson = book_ok(&r.app, &s.parent, booking(&s.tutor, &[&s.kids[0]], LESSON)).await;
    r.twilio.fail_always(Some(503));

    // Attempts at 16:00, +60 s, +120 s (max_attempts = 3, base 60 s).
    r.clock.set(instant("2027-03-09T16:00:00Z"));
    r.settle(&s, &s.kids[1]).await;
    assert_eq!(
        r.twilio
            .requests()
            .iter()
            .filter(|q| q.method == "POST")
            .count(),
        1
    );
    r.clock.set(instant("2027-03-09T16:00:59Z"));
    r.settle(&s, &s.kids[1]).await;
    assert_eq!(
        r.twilio
            .requests()
            .iter()
            .filter(|q| q.method == "POST")
            .count(),
        1,
        "not before the backoff"
    );
    r.clock.set(instant("2027-03-09T16:01:00Z"));
    r.settle(&s, &s.kids[1]).await;
    assert_eq!(
        r.twilio
            .requests()
            .iter()
            .filter(|q| q.method == "POST")
            .count(),
        2
    );
    r.clock.set(instant("2027-03-09T16:03:00Z"));
    let failed = monitor
        .next_event_named("admin:monitor", "notification:failed", common::notify::WAIT)
        .await
        .expect("admins hear of it")
        .payload;
    assert_eq!(failed["occurrence_id"], lesson["id"]);
    assert_eq!(failed["failures"][0]["channel"], "sms");
    assert_eq!(failed["failures"][0]["user_id"], s.parent.id);
    assert!(
        failed["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{failed}"
    );
    assert_eq!(
        r.twilio
            .requests()
            .iter()
            .filter(|q| q.method == "POST")
            .count(),
        3
    );
    // The emails went once, never again on the SMS retries.
    r.settle(&s, &s.kids[1]).await;
    assert_eq!(r.mails_about("Reminder").len(), 2);
    let jobs = r.jobs(&lesson).await;
    assert!(
        jobs.contains(&("r1440".into(), "failed".into())),
        "{jobs:?}"
    );
}

#[actix_web::test]
async fn a_text_twilio_took_but_whose_answer_was_lost_is_not_sent_again() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 2).await;
    set_phone(&r.app, &s.parent, PHONE).await;
    book_ok(&r.app, &s.parent, booking(&s.tutor, &[&s.kids[0]], LESSON)).await;
    r.twilio.accept_but_fail_next(1);
    r.clock.set(instant("2027-03-09T16:00:00Z"));
    r.settle(&s, &s.kids[1]).await;
    // The retry asks Twilio first and finds it.
    r.clock.set(instant("2027-03-09T16:05:00Z"));
    r.settle(&s, &s.kids[1]).await;
    let posts = r
        .twilio
        .requests()
        .iter()
        .filter(|q| q.method == "POST")
        .count();
    assert_eq!(
        posts,
        1,
        "one send; the second look was a question: {:?}",
        r.twilio.requests()
    );
    assert!(r.twilio.requests().iter().any(|q| q.method == "GET"));
    assert_eq!(r.twilio.accepted_count(), 1);
}

fn signature(url: &str, form: &[(&str, &str)]) -> String {
    let params: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    cms_server::notify::sms::signature(TOKEN, url, &params)
}

async fn webhook(r: &common::notify::Rig, form: &[(&str, &str)], sig: &str) -> u16 {
    let url = format!("{}/webhooks/twilio/sms", r.app.base);
    reqwest::Client::new()
        .post(url)
        .header("X-Twilio-Signature", sig)
        .form(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn stop_and_start_by_text_need_a_valid_signature() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 2).await;
    set_phone(&r.app, &s.parent, PHONE).await;
    let store = r.app.store.clone().unwrap();
    let url = format!("{}/webhooks/twilio/sms", r.app.base);
    let stop = [("From", PHONE), ("To", FROM), ("Body", "Stop ")];

    // Forged: signed with another token, or for other fields.
    let forged = cms_server::notify::sms::signature(
        "not-the-token",
        &url,
        &stop
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect::<Vec<_>>(),
    );
    assert_eq!(webhook(&r, &stop, &forged).await, 403);
    let other = signature(
        &url,
        &[("From", "+447400123457"), ("To", FROM), ("Body", "Stop ")],
    );
    assert_eq!(webhook(&r, &stop, &other).await, 403);
    assert!(!store.sms_stopped(PHONE).await.unwrap(), "nothing changed");

    assert_eq!(webhook(&r, &stop, &signature(&url, &stop)).await, 200);
    assert!(store.sms_stopped(PHONE).await.unwrap());

    // A reminder now goes by email only.
    book_ok(&r.app, &s.parent, booking(&s.tutor, &[&s.kids[0]], LESSON)).await;
    r.clock.set(instant("2027-03-09T16:00:00Z"));
    r.settle(&s, &s.kids[1]).await;
    assert_eq!(r.mails_about("Reminder").len(), 2);
    assert!(r.texts().is_empty());

    let start = [("From", PHONE), ("To", FROM), ("Body", "START")];
    assert_eq!(webhook(&r, &start, &forged).await, 403);
    assert!(store.sms_stopped(PHONE).await.unwrap());
    assert_eq!(webhook(&r, &start, &signature(&url, &start)).await, 200);
    assert!(!store.sms_stopped(PHONE).await.unwrap());
    r.clock.set(instant("2027-03-10T14:00:00Z"));
    r.twilio.wait_for_sent(1, common::notify::WAIT).await;
    assert_eq!(r.texts().len(), 1, "the 2 h reminder texts again");

    // A delivery receipt for it is recorded.
    let sid = r.twilio.sent()[0].sid.clone().unwrap();
    let status_url = format!("{}/webhooks/twilio/status", r.app.base);
    let receipt = [("MessageSid", sid.as_str()), ("MessageStatus", "delivered")];
    let code = reqwest::Client::new()
        .post(&status_url)
        .header("X-Twilio-Signature", signature(&status_url, &receipt))
        .form(&receipt)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(code, 204);
    let v = store.delivery_by_provider(&sid).await.unwrap();
    assert_eq!(v["status"], "delivered");
}

#[actix_web::test]
async fn notifications_are_pushed_on_the_user_topic_stored_and_marked_read() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 1).await;
    let topic = format!("user:{}", s.parent.id);
    let sock = r.app.joined(&s.parent, &topic).await;
    let lesson = book_ok(&r.app, &s.parent, booking(&s.tutor, &[&s.kids[0]], LESSON)).await;
    let pushed = sock
        .next_event_named(&topic, "notification", common::notify::WAIT)
        .await
        .expect("pushed")
        .payload;
    assert_eq!(pushed["kind"], "booked");
    assert_eq!(pushed["occurrence_id"], lesson["id"]);
    assert!(
        pushed["text"]
            .as_str()
            .unwrap()
            .contains("Wed 10 Mar 2027, 16:00 GMT")
    );

    r.clock.set(instant("2027-03-09T16:00:00Z"));
    let reminder = sock
        .next_event_named(&topic, "notification", common::notify::WAIT)
        .await
        .expect("pushed")
        .payload;
    assert_eq!(reminder["kind"], "reminder");

    let (status, list) = r
        .app
        .get("/api/v1/notifications", Some(&s.parent.token))
        .await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["kind"], "reminder", "newest first");
    assert!(list.iter().all(|n| n["read"] == false));
    let (status, res) = r
        .app
        .post(
            "/api/v1/notifications/read",
            Some(&s.parent.token),
            json!({ "ids": [list[1]["id"]] }),
        )
        .await;
    assert_eq!((status, res["marked"].as_u64()), (200, Some(1)));
    let (_, unread) = r
        .app
        .get("/api/v1/notifications?unread=true", Some(&s.parent.token))
        .await;
    assert_eq!(unread.as_array().unwrap().len(), 1);
    // Someone else's notifications are not theirs to read.
    let (_, tutor_list) = r
        .app
        .get("/api/v1/notifications", Some(&s.tutor.token))
        .await;
    assert!(
        tutor_list
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["id"] != list[0]["id"])
    );
}

#[actix_web::test]
async fn preferences_turn_channels_off_per_kind() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 2).await;
    set_phone(&r.app, &s.parent, PHONE).await;
    let (status, prefs) = r
        .app
        .get("/api/v1/me/notifications", Some(&s.parent.token))
        .await;
    assert_eq!(status, 200);
    assert_eq!(prefs["email"]["reminder"], true);
    assert_eq!(prefs["sms"]["reminder"], true);
    assert_eq!(prefs["sms"]["booked"], false);

    let mut off = prefs.clone();
    off["email"]["reminder"] = json!(false);
    off["sms"]["reminder"] = json!(false);
    let (status, body) = r
        .app
        .put(
            "/api/v1/me/notifications",
            Some(&s.parent.token),
            off.clone(),
        )
        .await;
    assert_eq!((status, &body), (200, &off));
    let mut bad = off.clone();
    bad["push"] = json!({});
    let (status, body) = r
        .app
        .put("/api/v1/me/notifications", Some(&s.parent.token), bad)
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "invalid");

    book_ok(&r.app, &s.parent, booking(&s.tutor, &[&s.kids[0]], LESSON)).await;
    r.clock.set(instant("2027-03-09T16:00:00Z"));
    r.settle(&s, &s.kids[1]).await;
    let reminders = r.mails_about("Reminder");
    assert_eq!(reminders.len(), 1, "only the tutor's");
    assert!(reminders[0].text.starts_with("Hello Tom Tutor"));
    assert!(r.texts().is_empty());
}

#[actix_web::test]
async fn phone_numbers_are_validated_and_stored_in_e164() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let (status, body) = r
        .app
        .post(
            "/api/v1/auth/register",
            None,
            json!({ "email": "ph@example.test", "password": "correct horse", "name": "P", "role": "parent", "phone": "+44 1234" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("phone"));
    let (status, body) = r
        .app
        .post(
            "/api/v1/auth/register",
            None,
            json!({ "email": "ph@example.test", "password": "correct horse", "name": "P", "role": "parent", "phone": "07400 123456" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["phone"], PHONE);
    let token = body["token"].as_str().unwrap();
    let (status, body) = r
        .app
        .request(
            "PATCH",
            "/api/v1/me",
            Some(token),
            Some(json!({ "phone": "not a number" })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, me) = r.app.get("/api/v1/me", Some(token)).await;
    assert_eq!(me["phone"], PHONE, "unchanged");
    let (status, me) = r
        .app
        .request(
            "PATCH",
            "/api/v1/me",
            Some(token),
            Some(json!({ "phone": null })),
        )
        .await;
    assert_eq!(status, 200);
    assert!(me["phone"].is_null());
}
