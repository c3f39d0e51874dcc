//! Billing on the real server against a local stand-in for Stripe's API
//! (it checks paths, form fields and headers and answers Stripe-shaped
//! JSON), with webhooks signed by Stripe's scheme and time from a manual
//! clock: a parent saves a card once; forged, stale, unreadable and
//! replayed webhooks change nothing; an older event never replaces a newer
//! card; without a key billing is off and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::sched::{book_ok, booking, hold, school};
use common::smtp::SmtpSink;
use common::stripe::{self, FakeStripe};
use common::{TestApp, User, spawn_app_at_with, test_config};
use serde_json::{Value, json};

pub(crate) const NOW: &str = "2027-03-10T12:00:00Z";

pub(crate) fn now_secs() -> i64 {
    chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .timestamp()
}

pub(crate) async fn billing_app(
    fake: &FakeStripe,
) -> (TestApp, std::sync::Arc<cms_actors::ManualClock>) {
    let mut config = test_config();
    stripe::billing_on(&mut config, fake);
    spawn_app_at_with(config, NOW).await
}

/// A billing server whose email goes to a real SMTP server of the test's.
pub(crate) async fn billing_app_with_mail(
    fake: &FakeStripe,
) -> (TestApp, std::sync::Arc<cms_actors::ManualClock>, SmtpSink) {
    let sink = SmtpSink::start();
    let mut config = test_config();
    stripe::billing_on(&mut config, fake);
    config.email.smtp_url = Some(sink.url());
    let (app, clock) = spawn_app_at_with(config, NOW).await;
    (app, clock, sink)
}

/// The user's in-app notifications of `kind` once there are `n`.
async fn notices(app: &TestApp, who: &User, kind: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let (_, list) = app.get("/api/v1/notifications", Some(&who.token)).await;
        let found: Vec<Value> = list
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n["kind"] == kind)
            .collect();
        if found.len() >= n {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {kind} notice: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Posts a webhook as Stripe would: the raw body and its signature.
pub(crate) async fn webhook(app: &TestApp, body: &str, signature: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/webhooks/stripe", app.base))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(s) = signature {
        req = req.header("Stripe-Signature", s);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Puts a Visa card on the parent's family the way it happens: the parent
/// sets up, Stripe confirms, its webhook arrives. Answers the customer.
pub(crate) async fn save_card(app: &TestApp, fake: &FakeStripe, parent: &User, pm: &str) -> String {
    let (status, body) = app
        .post("/api/v1/billing/setup", Some(&parent.token), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let customer = fake
        .requests_to("POST", "/v1/setup_intents")
        .last()
        .and_then(|r| r.field("customer").map(str::to_owned))
        .expect("a SetupIntent for a customer");
    fake.add_card(pm, "visa", "4242", 12, 2030);
    let event = card_event(&format!("evt_{pm}_{customer}"), &customer, pm, now_secs());
    let (status, answer) = webhook(app, &event, Some(&stripe::signature(&event, now_secs()))).await;
    assert_eq!(status, 200, "{answer}");
    customer
}

/// The ledger's invariants, checked after every billing scenario: every
/// entry sums to zero and every balance is the sum of its postings.
pub(crate) async fn assert_ledger_sound(app: &TestApp) {
    let problems = app.store.as_ref().unwrap().ledger_problems().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

async fn card_on_file(app: &TestApp, parent: &User) -> Value {
    let (status, overview) = app.get("/api/v1/billing", Some(&parent.token)).await;
    assert_eq!(status, 200, "{overview}");
    overview["card"].clone()
}

fn card_event(id: &str, customer: &str, pm: &str, created: i64) -> String {
    stripe::event(
        id,
        "setup_intent.succeeded",
        created,
        stripe::succeeded_setup_intent(&format!("seti_{id}"), customer, pm, created),
    )
}

#[actix_web::test]
async fn a_parent_saves_a_card_once_and_it_shows_on_file() {
    let fake = FakeStripe::start().await;
    let (app, _clock) = billing_app(&fake).await;
    let s = school(&app, 1).await;
    let family = s.parent.family_id.clone().unwrap();

    let (status, overview) = app.get("/api/v1/billing", Some(&s.parent.token)).await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(
        overview,
        json!({ "enabled": true, "balance_pence": 0, "charges": [] })
    );

    let (status, setup) = app
        .post("/api/v1/billing/setup", Some(&s.parent.token), json!({}))
        .await;
    assert_eq!(status, 200, "{setup}");
    assert!(
        setup["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("seti_standin")
    );
    let (status, again) = app
        .post("/api/v1/billing/setup", Some(&s.parent.token), json!({}))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(
        again["setup_intent_id"], setup["setup_intent_id"],
        "a new form, a new intent"
    );

    let customers = fake.requests_to("POST", "/v1/customers");
    assert_eq!(customers.len(), 1, "the family's customer is made once");
    let c = &customers[0];
    assert_eq!(c.authorization.as_deref(), Some("Bearer sk_test_standin"));
    assert_eq!(
        c.idempotency_key.as_deref(),
        Some(format!("customer:{family}").as_str())
    );
    assert_eq!(c.field("name"), Some("Pat Parent"));
    assert!(c.field("email").unwrap().contains('@'));
    assert_eq!(c.field("metadata[family_id]"), Some(family.as_str()));
    let intents = fake.requests_to("POST", "/v1/setup_intents");
    assert_eq!(intents.len(), 2);
    for i in &intents {
        assert_eq!(i.field("customer"), Some("cus_standin1"));
        assert_eq!(i.field("usage"), Some("off_session"));
        assert_eq!(i.field("allowed_payment_method_types[0]"), Some("card"));
        assert!(
            i.idempotency_key
                .as_deref()
                .unwrap()
                .starts_with(&format!("setup:{family}:"))
        );
        assert_eq!(i.stripe_account, None, "on the platform's own account");
    }
    assert_ne!(intents[0].idempotency_key, intents[1].idempotency_key);

    for who in [&s.tutor, &s.admin] {
        let (status, body) = app
            .post("/api/v1/billing/setup", Some(&who.token), json!({}))
            .await;
        assert_eq!(status, 403, "{body}");
    }

    // Stripe says the card was confirmed.
    fake.add_card("pm_visa", "visa", "4242", 12, 2030);
    let body = card_event("evt_1", "cus_standin1", "pm_visa", now_secs() - 5);
    let signed = stripe::signature(&body, now_secs());
    let (status, answer) = webhook(&app, &body, Some(&signed)).await;
    assert_eq!(
        (status, &answer["handled"]),
        (200, &json!("applied")),
        "{answer}"
    );
    let (_, overview) = app.get("/api/v1/billing", Some(&s.parent.token)).await;
    assert_eq!(
        overview["card"],
        json!({ "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030 }),
        "the payment method's id is never shown"
    );

    // The same delivery again: nothing is read or changed.
    let (status, answer) = webhook(&app, &body, Some(&signed)).await;
    assert_eq!((status, &answer["handled"]), (200, &json!("replayed")));
    assert_eq!(
        fake.requests_to("GET", "/v1/payment_methods/pm_visa").len(),
        1
    );
    assert_ledger_sound(&app).await;
}

#[actix_web::test]
async fn forged_stale_unreadable_and_older_webhooks_change_nothing() {
    let fake = FakeStripe::start().await;
    let (app, clock) = billing_app(&fake).await;
    let s = school(&app, 1).await;
    let (status, _) = app
        .post("/api/v1/billing/setup", Some(&s.parent.token), json!({}))
        .await;
    assert_eq!(status, 200);
    fake.add_card("pm_master", "mastercard", "5555", 3, 2031);
    fake.add_card("pm_old", "visa", "1111", 1, 2028);
    fake.add_card("pm_evil", "visa", "6666", 1, 2029);
    let t = now_secs();

    let evil = card_event("evt_evil", "cus_standin1", "pm_evil", t);
    let forged = cms_server::billing::webhook::sign(evil.as_bytes(), "whsec_guessed", t);
    let stale = stripe::signature(&evil, t - 301);
    let good_sig = stripe::signature(&evil, t);
    let tampered = evil.replace("pm_evil", "pm_old");
    for (body, sig, what) in [
        (evil.as_str(), Some(forged.as_str()), "forged"),
        (evil.as_str(), Some(stale.as_str()), "stale"),
        (tampered.as_str(), Some(good_sig.as_str()), "tampered"),
        (evil.as_str(), None, "unsigned"),
        (evil.as_str(), Some("t=1,v1=zz"), "malformed"),
    ] {
        let (status, answer) = webhook(&app, body, sig).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["error"], "malformed_json", "{what}: {answer}");
    }
    let not_json = "{ not json";
    let (status, _) = webhook(&app, not_json, Some(&stripe::signature(not_json, t))).await;
    assert_eq!(status, 400, "signed but not an event");
    assert_eq!(
        card_on_file(&app, &s.parent).await,
        Value::Null,
        "nothing was set"
    );
    assert!(
        fake.requests_to("GET", "/v1/payment_methods/pm_evil")
            .is_empty()
    );

    // A newer card, then an older event arriving late: the newer stays.
    let newer = card_event("evt_new", "cus_standin1", "pm_master", t - 10);
    let (status, answer) = webhook(&app, &newer, Some(&stripe::signature(&newer, t))).await;
    assert_eq!((status, &answer["handled"]), (200, &json!("applied")));
    clock.set(chrono::DateTime::from_timestamp(t + 60, 0).unwrap());
    let older = card_event("evt_old", "cus_standin1", "pm_old", t - 100);
    let (status, answer) = webhook(&app, &older, Some(&stripe::signature(&older, t + 60))).await;
    assert_eq!(
        (status, &answer["handled"]),
        (200, &json!("superseded")),
        "{answer}"
    );
    assert_eq!(card_on_file(&app, &s.parent).await["last4"], "5555");

    // Someone else's customer, and a kind not acted on: recorded, ignored.
    let stranger = card_event("evt_x", "cus_elsewhere", "pm_old", t);
    let (status, answer) =
        webhook(&app, &stranger, Some(&stripe::signature(&stranger, t + 60))).await;
    assert_eq!((status, &answer["handled"]), (200, &json!("ignored")));
    let other = stripe::event(
        "evt_y",
        "customer.updated",
        t,
        json!({ "id": "cus_standin1", "object": "customer" }),
    );
    let (status, answer) = webhook(&app, &other, Some(&stripe::signature(&other, t + 60))).await;
    assert_eq!((status, &answer["handled"]), (200, &json!("ignored")));
    assert_eq!(card_on_file(&app, &s.parent).await["last4"], "5555");
    assert_ledger_sound(&app).await;
}

#[actix_web::test]
async fn without_a_key_billing_is_off_and_says_so() {
    let (app, _clock) = spawn_app_at_with(test_config(), NOW).await;
    let s = school(&app, 1).await;
    let (status, overview) = app.get("/api/v1/billing", Some(&s.parent.token)).await;
    assert_eq!((status, &overview["enabled"]), (200, &json!(false)));
    let (status, body) = app
        .post("/api/v1/billing/setup", Some(&s.parent.token), json!({}))
        .await;
    assert_eq!(
        (status, &body["error"]),
        (503, &json!("unavailable")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("not enabled"));
    let event = card_event("evt_1", "cus_1", "pm_1", now_secs());
    let (status, _) = webhook(&app, &event, Some(&stripe::signature(&event, now_secs()))).await;
    assert_eq!(status, 400, "no webhook secret: nothing is accepted");
}

/// A tutor is onboarded to Stripe Connect once; Stripe's `account.updated`
/// says when payouts are enabled, and an older event never undoes it.
#[actix_web::test]
async fn a_tutor_is_onboarded_once_and_payouts_follow_stripe() {
    let fake = FakeStripe::start().await;
    let (app, _clock) = billing_app(&fake).await;
    let s = school(&app, 1).await;
    let t = now_secs();

    let (status, before) = app.get("/api/v1/tutor/payouts", Some(&s.tutor.token)).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(
        before,
        json!({ "enabled": true, "onboarding_started": false, "details_submitted": false, "payouts_enabled": false })
    );
    let (status, first) = app
        .post(
            "/api/v1/tutor/payouts/onboard",
            Some(&s.tutor.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = app
        .post(
            "/api/v1/tutor/payouts/onboard",
            Some(&s.tutor.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert!(first["url"].as_str().unwrap().contains("acct_standin1"));
    assert_ne!(first["url"], second["url"], "a fresh link each time");

    let accounts = fake.requests_to("POST", "/v1/accounts");
    assert_eq!(accounts.len(), 1, "the account is made once");
    let a = &accounts[0];
    assert_eq!(
        a.idempotency_key.as_deref(),
        Some(format!("account:{}", s.tutor.id).as_str())
    );
    assert_eq!(a.field("type"), Some("express"));
    assert_eq!(a.field("country"), Some("GB"));
    assert_eq!(a.field("capabilities[transfers][requested]"), Some("true"));
    assert_eq!(a.field("metadata[tutor_id]"), Some(s.tutor.id.as_str()));
    let links = fake.requests_to("POST", "/v1/account_links");
    assert_eq!(links.len(), 2);
    for l in &links {
        assert_eq!(l.field("account"), Some("acct_standin1"));
        assert_eq!(l.field("type"), Some("account_onboarding"));
        let back = l.field("return_url").unwrap();
        assert!(
            back.starts_with(&app.base) && back.ends_with("/tutor/payouts?onboarding=done"),
            "{back}"
        );
        assert!(
            l.field("refresh_url")
                .unwrap()
                .ends_with("onboarding=refresh")
        );
    }
    for who in [&s.parent, &s.admin] {
        let (status, _) = app
            .post("/api/v1/tutor/payouts/onboard", Some(&who.token), json!({}))
            .await;
        assert_eq!(status, 403);
    }

    let enabled = stripe::event(
        "evt_acct_2",
        "account.updated",
        t - 10,
        stripe::account("acct_standin1", None, true, true),
    );
    let (status, answer) = webhook(&app, &enabled, Some(&stripe::signature(&enabled, t))).await;
    assert_eq!(
        (status, &answer["handled"]),
        (200, &json!("applied")),
        "{answer}"
    );
    let older = stripe::event(
        "evt_acct_1",
        "account.updated",
        t - 60,
        stripe::account("acct_standin1", None, false, true),
    );
    let (status, answer) = webhook(&app, &older, Some(&stripe::signature(&older, t))).await;
    assert_eq!(
        (status, &answer["handled"]),
        (200, &json!("superseded")),
        "{answer}"
    );
    let (_, after) = app.get("/api/v1/tutor/payouts", Some(&s.tutor.token)).await;
    assert_eq!(
        (&after["details_submitted"], &after["payouts_enabled"]),
        (&json!(true), &json!(true))
    );
    let stranger = stripe::event(
        "evt_acct_x",
        "account.updated",
        t,
        stripe::account("acct_elsewhere", None, true, true),
    );
    let (status, answer) = webhook(&app, &stranger, Some(&stripe::signature(&stranger, t))).await;
    assert_eq!((status, &answer["handled"]), (200, &json!("ignored")));
    assert_ledger_sound(&app).await;
}

/// The family's charges once the charger has reached `status`.
async fn charges_once(app: &TestApp, parent: &User, status: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let (_, overview) = app.get("/api/v1/billing", Some(&parent.token)).await;
        let charges = overview["charges"].as_array().cloned().unwrap_or_default();
        if !charges.is_empty() && charges.iter().all(|c| c["status"] == status) {
            return charges;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "charges never {status}: {overview}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The family's receivable, the tutor's payable, the platform's revenue
/// and Stripe clearing.
async fn ledger(app: &TestApp, family: &str, tutor: &str) -> [i64; 4] {
    [
        balance(app, &format!("family_receivable:{family}")).await,
        balance(app, &format!("tutor_payable:{tutor}")).await,
        balance(app, "platform_revenue").await,
        balance(app, "stripe_clearing").await,
    ]
}

pub(crate) async fn balance(app: &TestApp, account: &str) -> i64 {
    let account = cms_domain::ledger::Account::parse(account).unwrap();
    app.store.as_ref().unwrap().balance(&account).await.unwrap()
}

/// A completed group lesson with two siblings: one charge for the family,
/// the younger child 10 % off, sent once with its key; the ledger splits
/// it 80/20 and balances; a crash and retry of the same attempt charges
/// nothing more.
#[actix_web::test]
async fn a_completed_lesson_is_charged_once_with_the_split() {
    let fake = FakeStripe::start().await;
    let (app, clock, mail) = billing_app_with_mail(&fake).await;
    let s = school(&app, 2).await;
    let family = s.parent.family_id.clone().unwrap();
    let kids = [s.kids[0].as_str(), s.kids[1].as_str()];
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &kids, "2027-03-10T16:00"),
    )
    .await;
    let lesson_id = lesson["id"].as_str().unwrap().to_owned();
    // The card on file.
    save_card(&app, &fake, &s.parent, "pm_visa").await;

    clock.set("2027-03-10T16:00:00Z".parse().unwrap());
    let (status, body) = app
        .post(
            &format!("/api/v1/lessons/{lesson_id}/start"),
            Some(&s.tutor.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        fake.requests_to("POST", "/v1/payment_intents").is_empty(),
        "nothing before the end"
    );
    let attendance = json!({ "notes": "", "attendance": [
        { "student_id": kids[0], "status": "present" },
        { "student_id": kids[1], "status": "absent" },
    ] });
    let (status, body) = app
        .post(
            &format!("/api/v1/lessons/{lesson_id}/end"),
            Some(&s.tutor.token),
            attendance,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let charges = charges_once(&app, &s.parent, "succeeded").await;
    assert_eq!(charges.len(), 1, "one charge for the family: {charges:?}");
    let c = &charges[0];
    // Group seats at £25: the elder full, the younger 10 % off (absent
    // without notice is charged); 20 % of 4,750 to the platform.
    assert_eq!(
        (
            &c["amount"],
            &c["discount"],
            &c["fee"],
            &c["net"],
            &c["purpose"]
        ),
        (
            &json!(4750),
            &json!(250),
            &json!(950),
            &json!(3800),
            &json!("lesson")
        )
    );
    let sent = fake.requests_to("POST", "/v1/payment_intents");
    assert_eq!(sent.len(), 1);
    let p = &sent[0];
    assert_eq!(
        p.idempotency_key.as_deref(),
        Some(format!("charge:{lesson_id}:{family}:lesson:1").as_str())
    );
    for (field, value) in [
        ("amount", "4750"),
        ("currency", "gbp"),
        ("customer", "cus_standin1"),
        ("payment_method", "pm_visa"),
        ("off_session", "true"),
        ("confirm", "true"),
    ] {
        assert_eq!(p.field(field), Some(value), "{field}");
    }
    assert_eq!(p.field("metadata[lesson_id]"), Some(lesson_id.as_str()));
    assert_eq!(p.stripe_account, None, "charged on the platform's account");

    assert_eq!(
        ledger(&app, &family, &s.tutor.id).await,
        [0, -3800, -950, 4750],
        "owed, then paid"
    );
    assert_ledger_sound(&app).await;

    // The receipt, in the app and by email, once.
    let receipts = notices(&app, &s.parent, "payment_receipt", 1).await;
    assert_eq!(receipts.len(), 1);
    let text = receipts[0]["text"].as_str().unwrap();
    assert!(text.contains("£47.50") && text.contains("£2.50"), "{text}");
    // The booking's notice came by email first; the receipt follows.
    let deadline = std::time::Instant::now() + common::WAIT;
    let receipt = loop {
        let found = mail
            .messages()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.data).into_owned())
            .find(|m| m.contains("Receipt"));
        if let Some(r) = found {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "no receipt email");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(receipt.contains("47.50"), "{receipt}");

    // The month's statement across both children.
    let (status, month) = app
        .get(
            "/api/v1/billing/statement?month=2027-03",
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(status, 200, "{month}");
    let lines: Vec<_> = month["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["child_id"].as_str().unwrap().to_owned(),
                l["price"].clone(),
                l["discount"].clone(),
                l["charged"].clone(),
                l["paid_with"].clone(),
                l["charge_status"].clone(),
            )
        })
        .collect();
    let mut expected = vec![
        (
            kids[0].to_owned(),
            json!(2500),
            json!(0),
            json!(2500),
            json!("card"),
            json!("succeeded"),
        ),
        (
            kids[1].to_owned(),
            json!(2500),
            json!(250),
            json!(2250),
            json!("card"),
            json!("succeeded"),
        ),
    ];
    let mut got = lines.clone();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected);
    assert_eq!(
        (
            &month["total_price"],
            &month["total_discount"],
            &month["total_charged"],
            &month["total_paid"]
        ),
        (&json!(5000), &json!(250), &json!(4750), &json!(4750))
    );
    for bad in ["2027-13", "2027-3", "march"] {
        let (status, _) = app
            .get(
                &format!("/api/v1/billing/statement?month={bad}"),
                Some(&s.parent.token),
            )
            .await;
        assert_eq!(status, 422, "{bad}");
    }
    let (status, _) = app
        .get(
            "/api/v1/billing/statement?month=2027-03",
            Some(&s.tutor.token),
        )
        .await;
    assert_eq!(status, 403);

    // Stripe's webhook for the same payment: nothing moves again.
    let pi = c["payment_intent"].as_str().unwrap();
    let paid = stripe::event(
        "evt_paid",
        "payment_intent.succeeded",
        now_secs(),
        stripe::payment_intent(pi, 4750, Some("cus_standin1"), "succeeded"),
    );
    let t = cms_actors::Clock::now(clock.as_ref()).timestamp();
    let (status, _) = webhook(&app, &paid, Some(&stripe::signature(&paid, t))).await;
    assert_eq!(status, 200);
    assert_eq!(
        ledger(&app, &family, &s.tutor.id).await,
        [0, -3800, -950, 4750]
    );

    // The charge is made but its answer is lost (a timeout, a crash
    // before it was recorded), for another family's lesson: the charger
    // sends it again at its retry time with the same key, Stripe answers
    // with the PaymentIntent it made, and nothing is charged twice.
    let other = app.register("parent", "Olive Other").await;
    let otto = common::sched::student(&app, &other, "Otto").await;
    let (status, _) = app
        .post("/api/v1/billing/setup", Some(&other.token), json!({}))
        .await;
    assert_eq!(status, 200);
    let customer = fake
        .requests_to("POST", "/v1/setup_intents")
        .last()
        .unwrap()
        .field("customer")
        .unwrap()
        .to_owned();
    fake.add_card("pm_other", "visa", "0005", 1, 2031);
    let t = cms_actors::Clock::now(clock.as_ref()).timestamp();
    let saved = card_event("evt_card2", &customer, "pm_other", t);
    let (status, answer) = webhook(&app, &saved, Some(&stripe::signature(&saved, t))).await;
    assert_eq!(
        (status, &answer["handled"]),
        (200, &json!("applied")),
        "{answer}"
    );
    let next = book_ok(
        &app,
        &other,
        booking(&s.tutor, &[otto.as_str()], "2027-03-12T16:00"),
    )
    .await;
    let next_id = next["id"].as_str().unwrap().to_owned();
    clock.set("2027-03-12T16:00:00Z".parse().unwrap());
    let (status, _) = app
        .post(
            &format!("/api/v1/lessons/{next_id}/start"),
            Some(&s.tutor.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    fake.lose_next_charge_answers(1);
    let marks = json!({ "notes": "", "attendance": [{ "student_id": otto, "status": "present" }] });
    let (status, _) = app
        .post(
            &format!("/api/v1/lessons/{next_id}/end"),
            Some(&s.tutor.token),
            marks,
        )
        .await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + common::WAIT;
    let first_try = loop {
        let sent = fake.requests_to("POST", "/v1/payment_intents");
        if sent.len() == 2 {
            break sent[1].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the charge was never sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let (_, overview) = app.get("/api/v1/billing", Some(&other.token)).await;
    assert_eq!(
        overview["charges"][0]["status"], "pending",
        "the answer was lost"
    );
    // Its retry time, ten minutes on, comes.
    clock.advance(chrono::Duration::minutes(11));
    let settled = charges_once(&app, &other, "succeeded").await;
    let sent = fake.requests_to("POST", "/v1/payment_intents");
    assert_eq!(sent.len(), 3, "sent again after the lost answer");
    assert_eq!(
        sent[2].idempotency_key, first_try.idempotency_key,
        "with the same key"
    );
    assert_eq!(
        settled[0]["amount"], 4000,
        "one-to-one, the only child that week"
    );
    let other_family = other.family_id.clone().unwrap();

    // The tutor's earnings and the admins' summary over March.
    let span = "from=2027-03-01&to=2027-04-01";
    let (status, earned) = app
        .get(
            &format!("/api/v1/tutor/earnings?{span}"),
            Some(&s.tutor.token),
        )
        .await;
    assert_eq!(status, 200, "{earned}");
    assert_eq!(earned["lessons"].as_array().unwrap().len(), 2);
    assert_eq!(
        (
            &earned["collected_gross"],
            &earned["collected_fee"],
            &earned["collected_net"]
        ),
        (&json!(4750 + 4000), &json!(950 + 800), &json!(3800 + 3200))
    );
    assert_eq!(earned["uncollected_net"], 0);
    let (status, _) = app
        .get(
            &format!("/api/v1/tutor/earnings?{span}"),
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(status, 403);
    let (status, summary) = app
        .get(
            &format!("/api/v1/admin/billing/summary?{span}"),
            Some(&s.admin.token),
        )
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        summary,
        json!({
            "charges": { "collected": 8750, "fees": 1750, "tutors": 7000, "failed_count": 0,
                "failed": 0, "waiting_count": 0, "waiting": 0 },
            "paid_out": 0, "outstanding": 0
        })
    );
    assert_eq!(
        ledger(&app, &other_family, &s.tutor.id).await,
        [0, -3800 - 3200, -950 - 800, 4750 + 4000]
    );
    assert_ledger_sound(&app).await;

    // 1 April, 09:00 in London (BST): March's statement, by email, once.
    let statements = |who: &'static str| {
        mail.messages()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.data).into_owned())
            .filter(|m| m.contains("Your statement for March 2027") && m.contains(who))
            .collect::<Vec<_>>()
    };
    clock.set("2027-04-01T07:59:00Z".parse().unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(statements("Pat Parent").is_empty(), "not before 09:00");
    clock.set("2027-04-01T08:00:00Z".parse().unwrap());
    let deadline = std::time::Instant::now() + common::WAIT;
    while statements("Pat Parent").is_empty() || statements("Olive Other").is_empty() {
        assert!(std::time::Instant::now() < deadline, "no statement emails");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pat = statements("Pat Parent").remove(0);
    assert!(
        pat.contains("Kid 0") && pat.contains("Kid 1"),
        "both children: {pat}"
    );
    assert!(
        pat.contains("=C2=A347.50") || pat.contains("£47.50"),
        "the month's total: {pat}"
    );
    let inapp = notices(&app, &s.parent, "family_statement", 1).await;
    assert!(inapp[0]["text"].as_str().unwrap().contains("£2.50"));
    clock.advance(chrono::Duration::minutes(5));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(statements("Pat Parent").len(), 1, "once");
    assert_eq!(
        notices(&app, &s.parent, "family_statement", 1).await.len(),
        1
    );
}

/// A declined card is tried again with backoff, each attempt with its own
/// key, then the charge fails and the family still owes it; a bank asking
/// for authentication leaves the charge waiting for the parent.
#[actix_web::test]
async fn declines_are_retried_then_fail_and_authentication_waits() {
    let fake = FakeStripe::start().await;
    let mut config = test_config();
    stripe::billing_on(&mut config, &fake);
    config.public_url = Some("https://app.test/".into());
    let (app, clock) = spawn_app_at_with(config, NOW).await;
    let s = school(&app, 1).await;
    let family = s.parent.family_id.clone().unwrap();
    let kid = s.kids[0].as_str();
    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
    let lesson_id = lesson["id"].as_str().unwrap().to_owned();
    save_card(&app, &fake, &s.parent, "pm_visa").await;

    let board = app.joined(&s.admin, "admin:monitor").await;
    fake.refuse_next_charges(&["card_declined"; 4]);
    clock.set("2027-03-10T16:00:00Z".parse().unwrap());
    hold(&app, &s.tutor, &lesson_id, &[kid]).await;
    // Attempts at the end, then 10, 20 and 40 minutes after each.
    for (n, wait_min) in [(1, 11), (2, 21), (3, 41), (4, 0)] {
        let deadline = std::time::Instant::now() + common::WAIT;
        while fake.requests_to("POST", "/v1/payment_intents").len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "attempt {n} never came"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Wait for its refusal to be recorded before the clock moves on.
        let deadline = std::time::Instant::now() + common::WAIT;
        loop {
            let (_, o) = app.get("/api/v1/billing", Some(&s.parent.token)).await;
            let c = &o["charges"][0];
            if c["attempts"] == n && (c["status"] != "pending" || n < 4) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "attempt {n} never recorded: {o}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        clock.advance(chrono::Duration::minutes(wait_min));
    }
    let failed = charges_once(&app, &s.parent, "failed").await;
    assert_eq!(failed[0]["attempts"], 4);
    let keys: std::collections::BTreeSet<_> = fake
        .requests_to("POST", "/v1/payment_intents")
        .into_iter()
        .map(|r| r.idempotency_key.unwrap())
        .collect();
    assert_eq!(
        keys.len(),
        4,
        "a new key for each attempt after a refusal: {keys:?}"
    );
    assert_eq!(
        ledger(&app, &family, &s.tutor.id).await,
        [4000, -3200, -800, 0],
        "owed and unpaid"
    );
    let alert = loop {
        let f = board
            .next_event_named("admin:monitor", "board:alert", common::WAIT)
            .await
            .expect("a board alert");
        if f.payload["kind"] == "payment_failed" {
            break f.payload;
        }
    };
    assert_eq!(alert["lesson_id"], lesson_id.as_str());
    assert!(alert["message"].as_str().unwrap().contains("£40.00"));
    let failed = notices(&app, &s.parent, "payment_failed", 1).await;
    assert!(failed[0]["text"].as_str().unwrap().contains("unpaid"));

    // Another lesson; the bank wants the parent to authenticate.
    let second = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-11T16:00"),
    )
    .await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    fake.refuse_next_charges(&["authentication_required"]);
    clock.set("2027-03-11T16:00:00Z".parse().unwrap());
    hold(&app, &s.tutor, &second_id, &[kid]).await;
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let (_, o) = app.get("/api/v1/billing", Some(&s.parent.token)).await;
        if o["charges"][0]["status"] == "requires_action" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never requires_action: {o}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let asked = notices(&app, &s.parent, "payment_action", 1).await;
    let link = format!("https://app.test/app/billing/confirm?lesson={second_id}&purpose=lesson");
    assert!(
        asked[0]["text"].as_str().unwrap().contains(&link),
        "{asked:?}"
    );
    let (status, summary) = app
        .get(
            "/api/v1/admin/billing/summary?from=2027-03-01&to=2027-04-01",
            Some(&s.admin.token),
        )
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        (
            &summary["charges"]["failed_count"],
            &summary["charges"]["failed"]
        ),
        (&json!(1), &json!(4000))
    );
    assert_eq!(
        (
            &summary["charges"]["waiting_count"],
            &summary["charges"]["waiting"]
        ),
        (&json!(1), &json!(4000)),
        "waiting on the parent"
    );
    assert_eq!(summary["outstanding"], 8000, "both unpaid");

    // The parent follows the link: the charge goes again with them
    // present, and the bank checks them in the app (3-D Secure).
    let confirm = json!({ "lesson_id": second_id, "purpose": "lesson" });
    let (status, body) = app
        .post(
            "/api/v1/billing/charges/confirm",
            Some(&s.tutor.token),
            confirm.clone(),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    fake.authenticate_next_charges(1);
    let (status, answer) = app
        .post(
            "/api/v1/billing/charges/confirm",
            Some(&s.parent.token),
            confirm.clone(),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "requires_action");
    let secret = answer["client_secret"].as_str().unwrap();
    let sent = fake.requests_to("POST", "/v1/payment_intents");
    let on_session = sent.last().unwrap();
    assert_eq!(on_session.field("off_session"), None, "the parent is here");
    assert_eq!(
        (
            on_session.field("confirm"),
            on_session.field("payment_method")
        ),
        (Some("true"), Some("pm_visa"))
    );
    assert_eq!(
        on_session.idempotency_key.as_deref(),
        Some(format!("charge:{second_id}:{family}:lesson:2").as_str()),
        "the charge's next attempt"
    );
    let intent = secret.split("_secret_").next().unwrap();
    // Answered in the app, not told again.
    assert_eq!(notices(&app, &s.parent, "payment_action", 1).await.len(), 1);
    // The bank is satisfied; Stripe says so.
    let paid = stripe::event(
        "evt_confirmed",
        "payment_intent.succeeded",
        now_secs(),
        stripe::payment_intent(intent, 4000, Some("cus_standin1"), "succeeded"),
    );
    let t = chrono::DateTime::parse_from_rfc3339("2027-03-11T16:00:00Z")
        .unwrap()
        .timestamp();
    let signed = stripe::signature(&paid, t);
    let (status, handled) = webhook(&app, &paid, Some(&signed)).await;
    assert_eq!((status, &handled["handled"]), (200, &json!("applied")));
    let (_, o) = app.get("/api/v1/billing", Some(&s.parent.token)).await;
    let second_charge = o["charges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["lesson_id"] == second_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(second_charge["status"], "succeeded", "{o}");
    let (status, again) = app
        .post(
            "/api/v1/billing/charges/confirm",
            Some(&s.parent.token),
            confirm,
        )
        .await;
    assert_eq!(status, 409, "nothing waits now: {again}");
    assert_ledger_sound(&app).await;
}

/// A late cancellation is charged like a lesson; a tutor's no-show is
/// never charged, and the makeup lesson its credit pays for is not either.
#[actix_web::test]
async fn late_cancellations_are_charged_and_no_shows_and_credits_are_not() {
    let fake = FakeStripe::start().await;
    let (app, clock) = billing_app(&fake).await;
    let s = school(&app, 1).await;
    let family = s.parent.family_id.clone().unwrap();
    let kid = s.kids[0].as_str();
    save_card(&app, &fake, &s.parent, "pm_visa").await;

    // Four hours' notice: late, charged.
    let late = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
    let late_id = late["id"].as_str().unwrap().to_owned();
    let (status, cancelled) = app
        .post(
            &format!("/api/v1/lessons/{late_id}/cancel"),
            Some(&s.parent.token),
            json!({ "reason": "ill" }),
        )
        .await;
    assert_eq!(
        (status, &cancelled["chargeable"]),
        (200, &json!(true)),
        "{cancelled}"
    );
    let charged = charges_once(&app, &s.parent, "succeeded").await;
    assert_eq!(charged.len(), 1);
    assert_eq!(
        (
            &charged[0]["purpose"],
            &charged[0]["amount"],
            &charged[0]["lesson_id"]
        ),
        (&json!("late_cancellation"), &json!(4000), &json!(late_id))
    );

    // The tutor never starts the next lesson: no-show, a makeup credit.
    let missed = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-11T16:00"),
    )
    .await;
    let missed_id = missed["id"].as_str().unwrap().to_owned();
    clock.set("2027-03-11T16:16:00Z".parse().unwrap());
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let (_, l) = app
            .get(
                &format!("/api/v1/lessons/{missed_id}"),
                Some(&s.parent.token),
            )
            .await;
        if l["status"] == "tutor_no_show" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never a no-show: {l}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The makeup, paid with that credit, held and completed.
    let mut makeup = booking(&s.tutor, &[kid], "2027-03-13T10:00");
    makeup["use_credit"] = json!(true);
    let makeup = book_ok(&app, &s.parent, makeup).await;
    let makeup_id = makeup["id"].as_str().unwrap().to_owned();
    clock.set("2027-03-13T10:00:00Z".parse().unwrap());
    hold(&app, &s.tutor, &makeup_id, &[kid]).await;

    let (_, overview) = app.get("/api/v1/billing", Some(&s.parent.token)).await;
    assert_eq!(
        overview["charges"].as_array().unwrap().len(),
        1,
        "only the late cancellation: {overview}"
    );
    assert_eq!(fake.requests_to("POST", "/v1/payment_intents").len(), 1);
    assert_eq!(
        ledger(&app, &family, &s.tutor.id).await,
        [0, -3200, -800, 4000]
    );
    assert_ledger_sound(&app).await;
}

/// The Friday after a week of lessons, the tutor is paid their share of
/// what was collected: one Transfer to their account and one bank payout
/// on it, each with its key; the ledger moves the payable to zero; the
/// statement lists each lesson. Nothing is paid twice.
#[actix_web::test]
async fn a_weeks_earnings_are_paid_out_once_with_a_statement() {
    let fake = FakeStripe::start().await;
    let (app, clock, mail) = billing_app_with_mail(&fake).await;
    let s = school(&app, 1).await;
    let kid = s.kids[0].as_str();
    let (status, _) = app
        .post(
            "/api/v1/tutor/payouts/onboard",
            Some(&s.tutor.token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let account = fake.requests_to("POST", "/v1/accounts");
    assert_eq!(
        account[0].field("settings[payouts][schedule][interval]"),
        Some("manual")
    );
    let acct = "acct_standin1";
    let enabled = stripe::event(
        "evt_a",
        "account.updated",
        now_secs(),
        stripe::account(acct, None, true, true),
    );
    let (status, _) = webhook(
        &app,
        &enabled,
        Some(&stripe::signature(&enabled, now_secs())),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post("/api/v1/billing/setup", Some(&s.parent.token), json!({}))
        .await;
    assert_eq!(status, 200);
    let customer = fake.requests_to("POST", "/v1/setup_intents")[0]
        .field("customer")
        .unwrap()
        .to_owned();
    fake.add_card("pm_visa", "visa", "4242", 12, 2030);
    let saved = card_event("evt_card", &customer, "pm_visa", now_secs());
    let (status, _) = webhook(&app, &saved, Some(&stripe::signature(&saved, now_secs()))).await;
    assert_eq!(status, 200);

    let lesson = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[kid], "2027-03-10T16:00"),
    )
    .await;
    let id = lesson["id"].as_str().unwrap().to_owned();
    clock.set("2027-03-10T16:00:00Z".parse().unwrap());
    hold(&app, &s.tutor, &id, &[kid]).await;
    charges_once(&app, &s.parent, "succeeded").await;
    assert!(
        fake.requests_to("POST", "/v1/transfers").is_empty(),
        "not before the payout day"
    );

    // Friday 19 March, 09:00: the week of Monday 8 March is paid.
    clock.set("2027-03-19T09:00:00Z".parse().unwrap());
    let deadline = std::time::Instant::now() + common::WAIT;
    while fake.requests_to("POST", "/v1/payouts").is_empty() {
        assert!(std::time::Instant::now() < deadline, "no payout");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let transfers = fake.requests_to("POST", "/v1/transfers");
    assert_eq!(transfers.len(), 1);
    let t = &transfers[0];
    let key = format!("payout:{}:2027-03-08", s.tutor.id);
    assert_eq!(
        t.idempotency_key.as_deref(),
        Some(format!("{key}:transfer").as_str())
    );
    assert_eq!(
        (
            t.field("amount"),
            t.field("currency"),
            t.field("destination")
        ),
        (Some("3200"), Some("gbp"), Some(acct))
    );
    assert_eq!(t.stripe_account, None, "from the platform's balance");
    let payouts = fake.requests_to("POST", "/v1/payouts");
    assert_eq!(payouts.len(), 1);
    assert_eq!(
        payouts[0].stripe_account.as_deref(),
        Some(acct),
        "on the tutor's account"
    );
    assert_eq!(
        payouts[0].idempotency_key.as_deref(),
        Some(format!("{key}:bank").as_str())
    );
    assert_eq!(payouts[0].field("amount"), Some("3200"));

    let family = s.parent.family_id.clone().unwrap();
    let deadline = std::time::Instant::now() + common::WAIT;
    while ledger(&app, &family, &s.tutor.id).await != [0, 0, -800, 800] {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            ledger(&app, &family, &s.tutor.id).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_ledger_sound(&app).await;

    let statement = notices(&app, &s.tutor, "payout_statement", 1).await;
    let text = statement[0]["text"].as_str().unwrap();
    assert!(text.contains("£32.00"), "{text}");
    let deadline = std::time::Instant::now() + common::WAIT;
    let email = loop {
        let found = mail
            .messages()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.data).into_owned())
            .find(|m| m.contains("Your payout"));
        if let Some(e) = found {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "no statement email");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        email.contains("40.00") && email.contains("8.00") && email.contains("32.00"),
        "{email}"
    );

    // Later sweeps pay nothing more.
    clock.advance(chrono::Duration::minutes(5));
    clock.advance(chrono::Duration::minutes(5));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(fake.requests_to("POST", "/v1/transfers").len(), 1);
    let (_, summary) = app
        .get(
            "/api/v1/admin/billing/summary?from=2027-03-01&to=2027-04-01",
            Some(&s.admin.token),
        )
        .await;
    assert_eq!(summary["paid_out"], 3200, "{summary}");

    // Reconciliation: the ledger's charge and transfer are Stripe's.
    let mut cfg = test_config();
    stripe::billing_on(&mut cfg, &fake);
    let api = cms_server::billing::stripe::StripeApi::from_config(&cfg.stripe)
        .unwrap()
        .unwrap();
    let store = app.store.as_ref().unwrap();
    let (from, to) = (
        "2027-03-01T00:00:00Z".parse().unwrap(),
        "2027-04-01T00:00:00Z".parse().unwrap(),
    );
    let report = cms_server::billing::reconcile::report(store, &api, from, to)
        .await
        .unwrap();
    assert_eq!(
        (report.matched, report.differences.len()),
        (2, 0),
        "{report:?}"
    );
    let asked = fake.requests_to("GET", "/v1/balance_transactions");
    assert_eq!(
        asked[0].field("created[gte]"),
        Some(from.timestamp().to_string().as_str())
    );
    assert_eq!(
        asked[0].field("created[lt]"),
        Some(to.timestamp().to_string().as_str())
    );
    // Something at Stripe the ledger never saw is reported, across pages.
    fake.add_balance_transaction("ch_elsewhere", "charge", 999);
    fake.add_balance_transaction("ch_other", "charge", 1);
    let report = cms_server::billing::reconcile::report(store, &api, from, to)
        .await
        .unwrap();
    assert_eq!(report.matched, 2);
    let missing: Vec<_> = report
        .differences
        .iter()
        .map(|d| serde_json::to_value(d).unwrap())
        .collect();
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(missing.iter().all(|d| d["kind"] == "missing_in_ledger"));
    assert!(
        fake.requests_to("GET", "/v1/balance_transactions")
            .iter()
            .any(|r| r.field("starting_after").is_some()),
        "paged"
    );
}

/// `cms-server billing reconcile` on a fresh store: nothing at Stripe is
/// nothing to report; a charge at Stripe the ledger never made is
/// reported and the command fails.
#[actix_web::test]
async fn the_reconcile_command_reports_what_only_stripe_has() {
    let fake = FakeStripe::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("surrealkv://{}", dir.path().join("db").display());
    let run = |fake_base: String, db: String| async move {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_cms-server"))
            .args(["--config", "/nonexistent/cms.toml", "--database-url", &db])
            .args([
                "billing",
                "reconcile",
                "--from",
                "2027-03-01",
                "--to",
                "2027-04-01",
            ])
            .env("CMS_LOG_FILTER", "warn")
            .env("CMS_STRIPE_SECRET_KEY", stripe::SECRET_KEY)
            .env("CMS_STRIPE_API_BASE", fake_base)
            .output()
            .await
            .unwrap()
    };
    let clean = run(fake.base.clone(), db.clone()).await;
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let report: Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(
        (&report["matched"], &report["differences"]),
        (&json!(0), &json!([]))
    );

    fake.add_balance_transaction("ch_unknown", "charge", 4000);
    let off = run(fake.base.clone(), db).await;
    assert!(!off.status.success(), "a difference fails the command");
    let report: Value = serde_json::from_slice(&off.stdout).unwrap();
    assert_eq!(report["differences"][0]["kind"], "missing_in_ledger");
    assert_eq!(report["differences"][0]["source"], "ch_unknown");
    assert!(String::from_utf8_lossy(&off.stderr).contains("1 differences"));
}

/// Three children in one UK week: the second pays 10 % less and the third
/// 15 % less, shown before the lessons and charged so after; a child alone
/// in another week pays in full.
#[actix_web::test]
async fn the_sibling_discount_is_shown_before_and_charged_after() {
    let fake = FakeStripe::start().await;
    let (app, clock) = billing_app(&fake).await;
    let s = school(&app, 3).await;
    save_card(&app, &fake, &s.parent, "pm_visa").await;
    let days = ["2027-03-10T16:00", "2027-03-11T16:00", "2027-03-12T16:00"];
    let mut ids = Vec::new();
    for (kid, day) in s.kids.iter().zip(days) {
        let l = book_ok(&app, &s.parent, booking(&s.tutor, &[kid.as_str()], day)).await;
        ids.push(l["id"].as_str().unwrap().to_owned());
    }
    let alone = book_ok(
        &app,
        &s.parent,
        booking(&s.tutor, &[s.kids[2].as_str()], "2027-03-17T16:00"),
    )
    .await;

    let (status, week) = app
        .get(
            "/api/v1/billing/week?date=2027-03-14",
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(status, 200, "{week}");
    assert_eq!(week["week_of"], "2027-03-08");
    let seats: Vec<(Value, Value, Value, Value)> = week["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["child_id"].clone(),
                x["price"].clone(),
                x["discount"].clone(),
                x["pay"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seats,
        vec![
            (json!(s.kids[0]), json!(4000), json!(0), json!(4000)),
            (json!(s.kids[1]), json!(4000), json!(400), json!(3600)),
            (json!(s.kids[2]), json!(4000), json!(600), json!(3400)),
        ]
    );
    assert_eq!(
        (
            &week["total_price"],
            &week["total_discount"],
            &week["total_pay"]
        ),
        (&json!(12_000), &json!(1_000), &json!(11_000))
    );
    let (_, next) = app
        .get(
            "/api/v1/billing/week?date=2027-03-17",
            Some(&s.parent.token),
        )
        .await;
    assert_eq!(next["seats"][0]["lesson_id"], alone["id"]);
    assert_eq!(
        (&next["seats"][0]["discount"], &next["total_pay"]),
        (&json!(0), &json!(4000))
    );
    for bad in ["2027-02-30", "next week"] {
        let (status, body) = app
            .get(
                &format!("/api/v1/billing/week?date={bad}"),
                Some(&s.parent.token),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, _) = app
        .get("/api/v1/billing/week?date=2027-03-14", Some(&s.tutor.token))
        .await;
    assert_eq!(status, 403);

    // The third child's lesson is held: charged what was shown.
    clock.set("2027-03-12T16:00:00Z".parse().unwrap());
    hold(&app, &s.tutor, &ids[2], &[s.kids[2].as_str()]).await;
    let charged = charges_once(&app, &s.parent, "succeeded").await;
    assert_eq!(
        (&charged[0]["amount"], &charged[0]["discount"]),
        (&json!(3400), &json!(600))
    );
    assert_ledger_sound(&app).await;
}
