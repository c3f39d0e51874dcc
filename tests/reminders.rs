//! Reminders and notices on the real server with time from an injected
//! clock: email to a real SMTP server started here, texts to a local fake
//! Twilio that records each request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::notify::{instant, rig, set_phone};
use common::sched::{book_ok, booking, cancel, school};
use serde_json::json;

const LESSON: &str = "2027-03-10T16:00";
const PHONE: &str = "+447400123456";

#[actix_web::test]
async fn both_reminders_go_once_each_at_their_time_by_email_and_sms() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 2).await;
    set_phone(&r.app, &s.parent, PHONE).await;
    let lesson = book_ok(&r.app, &s.parent, booking(&s.tutor, &[&s.kids[0]], LESSON)).await;
    assert_eq!(
        r.jobs(&lesson).await,
        [
            ("r120".into(), "pending".into()),
            ("r1440".into(), "pending".into())
        ]
    );

    // A second before the 24 h reminder: nothing yet.
    r.clock.set(instant("2027-03-09T15:59:59Z"));
    r.settle(&s, &s.kids[1]).await;
    assert!(r.mails_about("Reminder").is_empty());
    assert!(r.texts_containing("starts").is_empty());

    r.clock.set(instant("2027-03-09T16:00:00Z"));
    let before = r.mails().len();
    r.mails_total(before + 2).await;
    r.settle(&s, &s.kids[1]).await;
    let day_before = r.mails_about("Reminder");
    assert_eq!(day_before.len(), 2, "parent and tutor: {day_before:?}");
    let to_parent = day_before
        .iter()
        .find(|m| m.text.contains("for Kid 0 with Tom Tutor"))
        .expect("the parent's reminder names the child and the tutor");
    assert!(
        to_parent.subject.contains("tomorrow"),
        "{}",
        to_parent.subject
    );
    assert!(
        to_parent.text.contains("Wed 10 Mar 2027, 16:00 GMT"),
        "{}",
        to_parent.text
    );
    assert!(
        to_parent
            .text
            .contains("Free cancellation until Tue 9 Mar 2027, 16:00 GMT"),
        "{}",
        to_parent.text
    );
    assert!(to_parent.html.contains("16:00 GMT"));
    let texts = r.texts_containing("starts Wed 10 Mar 2027, 16:00 GMT");
    assert_eq!(texts.len(), 1, "one text, to the parent with a phone");
    assert_eq!(texts[0].field("To"), Some(PHONE));

    // Two hours before.
    r.clock.set(instant("2027-03-10T14:00:00Z"));
    r.mails_total(r.mails().len() + 2).await;
    r.settle(&s, &s.kids[1]).await;
    let two_hours = r.mails_about("Reminder: GCSE Maths for Kid 0 with Tom Tutor, in 2 hours");
    assert_eq!(two_hours.len(), 1);
    assert!(two_hours[0].text.contains("cancelling now is charged"));
    assert_eq!(
        r.texts_containing("starts Wed 10 Mar 2027, 16:00 GMT")
            .len(),
        2
    );

    // Past the start: nothing more, and each job is done.
    r.clock.set(instant("2027-03-10T17:00:00Z"));
    r.settle(&s, &s.kids[1]).await;
    assert_eq!(r.mails_about("Reminder").len(), 4);
    assert_eq!(
        r.jobs(&lesson).await,
        [
            ("r120".into(), "sent".into()),
            ("r1440".into(), "sent".into())
        ]
    );
}

#[actix_web::test]
async fn a_cancelled_lesson_gets_no_reminder_and_a_cancellation_notice_with_an_ics_cancel() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 2).await;
    set_phone(&r.app, &s.parent, PHONE).await;
    let lesson = book_ok(&r.app, &s.parent, booking(&s.tutor, &[&s.kids[0]], LESSON)).await;
    let (status, res) = cancel(&r.app, &s.tutor, &lesson, json!({ "reason": "unwell" })).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        r.jobs(&lesson).await,
        [
            ("r120".into(), "withdrawn".into()),
            ("r1440".into(), "withdrawn".into())
        ]
    );
    for t in [
        "2027-03-09T16:00:00Z",
        "2027-03-10T14:00:00Z",
        "2027-03-10T17:00:00Z",
    ] {
        r.clock.set(instant(t));
        r.settle(&s, &s.kids[1]).await;
    }
    assert!(r.mails_about("Reminder").is_empty());
    assert!(r.texts_containing("starts").is_empty());
    let notices = r.mails_about("Cancelled:");
    assert_eq!(notices.len(), 2, "parent and tutor");
    let (method, ics) = &notices[0].calendars[0];
    assert_eq!(method, "CANCEL");
    assert!(
        ics.contains("METHOD:CANCEL") && ics.contains("STATUS:CANCELLED"),
        "{ics}"
    );
    assert!(ics.contains(&format!(
        "UID:{}@cms-education",
        lesson["id"].as_str().unwrap()
    )));
    // Cancellations go by SMS by default; the tutor has no phone.
    assert_eq!(r.texts_containing("is cancelled").len(), 1);
}

#[actix_web::test]
async fn a_reschedule_moves_the_reminders_to_the_new_time() {
    let r = rig("2027-03-01T09:00:00Z").await;
    let s = school(&r.app, 2).await;
    let lesson = book_ok(&r.app, &s.parent, booking(&s.tutor, &[&s.kids[0]], LESSON)).await;
    let (status, res) = r
        .app
        .post(
            &format!(
                "/api/v1/lessons/{}/reschedule",
                lesson["id"].as_str().unwrap()
            ),
            Some(&s.parent.token),
            json!({ "start": "2027-03-12T17:00", "reason": "swimming" }),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let moved = &res["occurrence"];
    assert_eq!(
        r.jobs(&lesson).await,
        [
            ("r120".into(), "withdrawn".into()),
            ("r1440".into(), "withdrawn".into())
        ]
    );
    assert_eq!(
        r.jobs(moved).await,
        [
            ("r120".into(), "pending".into()),
            ("r1440".into(), "pending".into())
        ]
    );
    // Two confirmations, then two notices of the move.
    let notice = r.mails_total(4).await;
    assert!(notice.iter().any(|m| {
        m.subject.starts_with("Moved:")
            && m.text
                .contains("moved to Fri 12 Mar 2027, 17:00 GMT (was Wed 10 Mar 2027, 16:00 GMT)")
    }));

    // The old times pass quietly; the new one rings.
    r.clock.set(instant("2027-03-10T15:00:00Z"));
    r.settle(&s, &s.kids[1]).await;
    assert!(r.mails_about("Reminder").is_empty());
    r.clock.set(instant("2027-03-11T17:00:00Z"));
    r.settle(&s, &s.kids[1]).await;
    let reminders = r.mails_about("Reminder");
    assert_eq!(reminders.len(), 2);
    assert!(
        reminders
            .iter()
            .all(|m| m.text.contains("Fri 12 Mar 2027, 17:00 GMT"))
    );
}

#[actix_web::test]
async fn the_24h_reminder_across_the_october_clock_change_fires_once_24_real_hours_ahead() {
    // Clocks go back at 01:00 UTC on Sunday 31 October 2027. A lesson at
    // 09:00 that Sunday (GMT, 09:00 UTC) is reminded at 09:00 UTC on the
    // Saturday, which Londoners read as 10:00 BST.
    let r = rig("2027-10-20T09:00:00Z").await;
    let s = school(&r.app, 2).await;
    let lesson = book_ok(
        &r.app,
        &s.parent,
        booking(&s.tutor, &[&s.kids[0]], "2027-10-31T09:00"),
    )
    .await;
    assert_eq!(lesson["start"], "2027-10-31T09:00:00Z");

    // 09:00 BST on Saturday (08:00 UTC) is the same wall time but 25 h
    // ahead: too early.
    r.clock.set(instant("2027-10-30T08:59:59Z"));
    r.settle(&s, &s.kids[1]).await;
    assert!(r.mails_about("Reminder").is_empty());

    r.clock.set(instant("2027-10-30T09:00:00Z"));
    r.settle(&s, &s.kids[1]).await;
    let sent = r.mails_about("Reminder");
    assert_eq!(sent.len(), 2, "once each for parent and tutor");
    assert!(
        sent[0].text.contains("Sun 31 Oct 2027, 09:00 GMT"),
        "{}",
        sent[0].text
    );
    // Through the repeated hour and on: still once.
    for t in [
        "2027-10-31T00:30:00Z",
        "2027-10-31T01:30:00Z",
        "2027-10-31T06:00:00Z",
    ] {
        r.clock.set(instant(t));
        r.settle(&s, &s.kids[1]).await;
    }
    assert_eq!(
        r.mails_about("Reminder: GCSE Maths for Kid 0 with Tom Tutor, tomorrow")
            .len(),
        1
    );
    assert_eq!(
        r.mails_about("Reminder").len(),
        2,
        "the 2 h one is not due until 07:00 UTC"
    );
}
