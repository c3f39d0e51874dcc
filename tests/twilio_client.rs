//! The Twilio client against a local fake: what it sends, how it reads
//! Twilio's errors, and how it finds a message accepted before a crash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cms_server::config::SmsConfig;
use cms_server::notify::sms::{SmsError, Twilio};
use common::twilio::FakeTwilio;

const TO: &str = "+447400123456";
const CALLBACK: &str = "https://api.example.org/api/v1/webhooks/twilio/status";

fn client(base: &str, from: &str) -> Twilio {
    let cfg = SmsConfig {
        twilio_base_url: base.to_owned(),
        account_sid: Some("AC123".into()),
        auth_token: Some("token".into()),
        from: Some(from.into()),
        public_url: None,
        timeout_secs: 5,
    };
    Twilio::from_config(&cfg).unwrap().expect("SMS configured")
}

#[actix_web::test]
async fn send_posts_the_form_to_the_accounts_messages_with_basic_auth() {
    let fake = FakeTwilio::start().await;
    let twilio = client(&fake.base, "+15005550006");

    let sent = twilio
        .send(TO, "Maths with Tina at 16:00", Some(CALLBACK))
        .await
        .unwrap();
    assert!(
        sent.sid.starts_with("SM") && sent.sid.len() == 34,
        "{}",
        sent.sid
    );
    assert_eq!(sent.status, "queued");

    let reqs = fake.sent();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/2010-04-01/Accounts/AC123/Messages.json");
    let expected_auth = format!("Basic {}", BASE64.encode("AC123:token"));
    assert_eq!(r.authorization.as_deref(), Some(expected_auth.as_str()));
    assert_eq!(r.field("To"), Some(TO));
    assert_eq!(r.field("From"), Some("+15005550006"));
    assert_eq!(r.field("Body"), Some("Maths with Tina at 16:00"));
    assert_eq!(r.field("StatusCallback"), Some(CALLBACK));
    assert_eq!(r.field("MessagingServiceSid"), None);
}

#[actix_web::test]
async fn a_messaging_service_is_named_instead_of_a_from_number() {
    let fake = FakeTwilio::start().await;
    let twilio = client(&fake.base, "MG0123456789abcdef0123456789abcdef");

    twilio.send(TO, "Lesson moved", None).await.unwrap();

    let r = &fake.sent()[0];
    assert_eq!(
        r.field("MessagingServiceSid"),
        Some("MG0123456789abcdef0123456789abcdef")
    );
    assert_eq!(r.field("From"), None);
    assert_eq!(r.field("StatusCallback"), None, "none was given");
}

#[actix_web::test]
async fn a_400_is_permanent_and_a_503_is_not() {
    let fake = FakeTwilio::start().await;
    let twilio = client(&fake.base, "+15005550006");

    fake.fail_next(1, 400);
    let e = twilio.send(TO, "hi", None).await.unwrap_err();
    assert!(
        matches!(
            e,
            SmsError::Rejected {
                status: 400,
                code: Some(21211),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_permanent());

    fake.fail_next(1, 503);
    let e = twilio.send(TO, "hi", None).await.unwrap_err();
    assert!(matches!(e, SmsError::Rejected { status: 503, .. }), "{e:?}");
    assert!(!e.is_permanent());

    // The failures are over: the next send goes through.
    twilio.send(TO, "hi", None).await.unwrap();
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(fake.sent().len(), 1);
}

#[actix_web::test]
async fn no_answer_at_all_is_not_permanent() {
    // Bind a port and free it again, so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let twilio = client(&format!("http://127.0.0.1:{port}"), "+15005550006");
    let e = twilio.send(TO, "hi", None).await.unwrap_err();
    assert!(matches!(e, SmsError::Transport(_)), "{e:?}");
    assert!(!e.is_permanent());
}

#[actix_web::test]
async fn find_sent_finds_an_accepted_message_but_not_another_text() {
    let fake = FakeTwilio::start().await;
    let twilio = client(&fake.base, "+15005550006");
    let since = chrono::Utc::now() - chrono::Duration::minutes(5);

    assert_eq!(twilio.find_sent(TO, "Reminder", since).await.unwrap(), None);

    let sent = twilio.send(TO, "Reminder", None).await.unwrap();
    twilio
        .send("+447911123456", "Reminder", None)
        .await
        .unwrap();

    let found = twilio.find_sent(TO, "Reminder", since).await.unwrap();
    assert_eq!(found, Some(sent.sid));
    assert_eq!(
        twilio
            .find_sent(TO, "Another reminder", since)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        twilio
            .find_sent("+447400999999", "Reminder", since)
            .await
            .unwrap(),
        None
    );

    let list = fake
        .requests()
        .into_iter()
        .rfind(|r| r.method == "GET")
        .unwrap();
    assert_eq!(list.path, "/2010-04-01/Accounts/AC123/Messages.json");
    let expected_auth = format!("Basic {}", BASE64.encode("AC123:token"));
    assert_eq!(list.authorization.as_deref(), Some(expected_auth.as_str()));
    let day = since.format("%Y-%m-%d").to_string();
    assert!(list.query.contains("To=%2B447400999999"), "{}", list.query);
    assert!(
        list.query.contains(&format!("DateSent%3E={day}")),
        "{}",
        list.query
    );
    assert!(list.query.contains("PageSize=50"), "{}", list.query);
}

#[actix_web::test]
async fn wait_for_sent_returns_once_enough_messages_arrived() {
    let fake = FakeTwilio::start().await;
    let twilio = client(&fake.base, "+15005550006");
    let waiter = fake.wait_for_sent(2, std::time::Duration::from_secs(5));
    let sender = async {
        twilio.send(TO, "one", None).await.unwrap();
        twilio.send(TO, "two", None).await.unwrap();
    };
    let (sent, ()) = tokio::join!(waiter, sender);
    let bodies: Vec<_> = sent.iter().map(|r| r.field("Body").unwrap()).collect();
    assert_eq!(bodies, ["one", "two"]);
}

#[actix_web::test]
async fn a_send_whose_answer_was_lost_is_found_afterwards() {
    let fake = FakeTwilio::start().await;
    let twilio = client(&fake.base, "+15005550006");
    let since = chrono::Utc::now();

    fake.accept_but_fail_next(1);
    let e = twilio.send(TO, "Lesson at 16:00", None).await.unwrap_err();
    assert!(!e.is_permanent(), "{e:?}");
    assert!(fake.sent().is_empty(), "no 201 went back");
    assert_eq!(fake.accepted_count(), 1);

    let sid = fake.requests()[0].sid.clone().expect("accepted");
    let found = twilio
        .find_sent(TO, "Lesson at 16:00", since)
        .await
        .unwrap();
    assert_eq!(found, Some(sid));
}
