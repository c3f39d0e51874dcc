//! Outgoing email through a real SMTP server and through the outbox
//! directory: envelope, headers, both bodies and the iCalendar invite, and
//! which failures are permanent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use cms_server::config::EmailConfig;
use cms_server::notify::email::{Email, IcsAttachment, Mailer};
use common::smtp::SmtpSink;
use mail_parser::{MessageParser, MimeHeaders};

const ICS: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//CMS Education//Lessons//EN\r\n\
METHOD:REQUEST\r\n\
BEGIN:VEVENT\r\n\
UID:lesson-42@cms-education\r\n\
SEQUENCE:0\r\n\
DTSTAMP:20270301T090000Z\r\n\
DTSTART:20270315T160000Z\r\n\
DTEND:20270315T170000Z\r\n\
SUMMARY:Maths with Tina\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

fn config(smtp_url: Option<String>, outbox_dir: &str) -> EmailConfig {
    EmailConfig {
        smtp_url,
        from: "CMS Education <no-reply@cms-education.test>".into(),
        outbox_dir: outbox_dir.into(),
        pool_max: 2,
        timeout_secs: 5,
    }
}

fn email(message_id: &str) -> Email {
    Email {
        to: vec![
            ("Alice Parent".into(), "alice@example.test".into()),
            ("Zoë Brontë-Smith".into(), "zoe@example.test".into()),
        ],
        subject: "Lesson booked: Maths, Mon 15 Mar 16:00 — £30".into(),
        text: "Your lesson with Tina is booked for Monday 15 March at 16:00 (£30).\n".into(),
        html: "<p>Your lesson with <b>Tina</b> is booked for Monday 15 March at 16:00 (£30).</p>"
            .into(),
        ics: Some(IcsAttachment {
            method: "REQUEST".into(),
            body: ICS.into(),
        }),
        message_id: message_id.into(),
    }
}

/// Everything a recipient's mail client would show, checked on raw bytes.
fn assert_message(raw: &[u8], message_id: &str) {
    let msg = MessageParser::default()
        .parse(raw)
        .unwrap_or_else(|| panic!("parses:\n{}", String::from_utf8_lossy(raw)));
    assert_eq!(
        msg.subject(),
        Some("Lesson booked: Maths, Mon 15 Mar 16:00 — £30")
    );
    let from = msg.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("no-reply@cms-education.test"));
    assert_eq!(from.name(), Some("CMS Education"));
    let to: Vec<(Option<&str>, Option<&str>)> = msg
        .to()
        .expect("To")
        .iter()
        .map(|a| (a.name(), a.address()))
        .collect();
    assert_eq!(
        to,
        vec![
            (Some("Alice Parent"), Some("alice@example.test")),
            (Some("Zoë Brontë-Smith"), Some("zoe@example.test")),
        ]
    );
    assert_eq!(msg.message_id(), Some(message_id));
    let raw_text = String::from_utf8_lossy(raw);
    assert!(
        raw_text.contains(&format!("Message-ID: <{message_id}>")),
        "{raw_text}"
    );
    assert!(msg.date().is_some(), "Date header");

    assert_eq!(msg.text_body_count(), 1);
    assert_eq!(msg.html_body_count(), 1);
    // lettre sends text with CRLF line ends, as SMTP wants.
    assert_eq!(
        msg.body_text(0).map(|t| t.replace("\r\n", "\n")).as_deref(),
        Some("Your lesson with Tina is booked for Monday 15 March at 16:00 (£30).\n")
    );
    let html = msg.body_html(0).expect("html body");
    assert!(
        html.contains("<p>Your lesson with <b>Tina</b> is booked"),
        "{html}"
    );

    assert_eq!(msg.attachment_count(), 1);
    let ics = msg.attachment(0).expect("attachment");
    let ct = ics.content_type().expect("attachment content type");
    assert_eq!(ct.ctype(), "text");
    assert_eq!(ct.subtype(), Some("calendar"));
    assert_eq!(ct.attribute("method"), Some("REQUEST"));
    assert!(
        ct.attribute("charset")
            .is_some_and(|c| c.eq_ignore_ascii_case("utf-8")),
        "{ct:?}"
    );
    assert_eq!(ics.attachment_name(), Some("invite.ics"));
    assert_eq!(ics.text_contents(), Some(ICS));
}

#[actix_web::test]
async fn smtp_delivers_text_html_and_the_calendar_invite_to_every_recipient() {
    let sink = SmtpSink::start();
    let mailer = Mailer::from_config(&config(Some(sink.url()), "unused")).expect("mailer");
    assert_eq!(mailer.describe(), format!("smtp 127.0.0.1:{}", sink.port));

    mailer
        .send(&email("delivery-1@cms-education"))
        .await
        .expect("sent");
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    let mut rcpt = got[0].to.clone();
    rcpt.sort();
    assert_eq!(rcpt, ["alice@example.test", "zoe@example.test"]);
    assert_eq!(got[0].from, "no-reply@cms-education.test");
    assert_message(&got[0].data, "delivery-1@cms-education");

    // A second message reuses the pooled connection and still arrives.
    let mut cancel = email("delivery-2@cms-education");
    cancel.to.truncate(1);
    cancel.ics = Some(IcsAttachment {
        method: "CANCEL".into(),
        body: ICS.replace("METHOD:REQUEST", "METHOD:CANCEL"),
    });
    mailer.send(&cancel).await.expect("second send");
    let got = sink.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].to, ["alice@example.test"]);
    let msg = MessageParser::default()
        .parse(&got[1].data)
        .expect("parses");
    let part = msg.attachment(0).expect("cancel attachment");
    assert_eq!(
        part.content_type().and_then(|c| c.attribute("method")),
        Some("CANCEL")
    );
    assert_eq!(part.attachment_name(), Some("cancel.ics"));
}

#[actix_web::test]
async fn the_outbox_keeps_one_file_per_message_id_across_resends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = dir.path().join("outbox");
    let mailer =
        Mailer::from_config(&config(None, outbox.to_str().expect("utf-8 path"))).expect("mailer");
    assert_eq!(mailer.describe(), format!("outbox {}", outbox.display()));

    let message = email("delivery-7@cms-education");
    mailer.send(&message).await.expect("first write");
    mailer.send(&message).await.expect("resend");

    let files: Vec<_> = std::fs::read_dir(&outbox)
        .expect("outbox exists")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        files[0].file_name().and_then(|n| n.to_str()),
        Some("delivery-7@cms-education.eml")
    );
    let raw = std::fs::read(&files[0]).expect("read eml");
    assert_message(&raw, "delivery-7@cms-education");
}

#[actix_web::test]
async fn a_bad_address_is_permanent_and_an_unreachable_server_is_not() {
    // Refused connections: a port that was free a moment ago.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mailer = Mailer::from_config(&config(Some(format!("smtp://127.0.0.1:{port}")), "unused"))
        .expect("mailer");

    let mut bad = email("delivery-8@cms-education");
    bad.to.push(("Nobody".into(), "not-an-address".into()));
    let err = mailer.send(&bad).await.expect_err("bad address");
    assert!(err.is_permanent(), "{err:?}");
    assert!(err.to_string().contains("not-an-address"), "{err}");

    let err = mailer
        .send(&email("delivery-9@cms-education"))
        .await
        .expect_err("nothing listening");
    assert!(!err.is_permanent(), "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "keeps lettre's error"
    );
}
