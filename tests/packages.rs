//! Packages on the real server against the local Stripe stand-in: an admin
//! puts a bundle on sale; a parent buys it with a PaymentIntent (confirmed
//! in the app and paid by webhook, or at once with the saved card, or
//! declined); bookings spend its lessons, a cancellation in time and a
//! tutor's no-show give one back, a lesson held or cancelled late moves
//! the unit's worth to the tutor and the platform, and what nobody spent
//! expires to the platform. The ledger is
//! checked at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::billing::{assert_ledger_sound, balance, billing_app, now_secs, save_card, webhook};
use crate::common;
use common::sched::{book_ok, booking, hold, school};
use common::stripe::{self, FakeStripe};
use common::{TestApp, User};

/// The family's packages, by id.
async fn package(app: &TestApp, parent: &User, id: &str) -> Value {
    let (status, list) = app
        .get("/api/v1/billing/packages", Some(&parent.token))
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no package {id}: {list}"))
}

fn units(p: &Value) -> (u64, u64, u64) {
    let u = &p["units"];
    (
        u["available"].as_u64().unwrap(),
        u["used"].as_u64().unwrap(),
        u["expired"].as_u64().unwrap(),
    )
}

async fn buy(app: &TestApp, parent: &User, offer: &str) -> Value {
    let (status, bought) = app
        .post(
            "/api/v1/billing/packages",
            Some(&parent.token),
            json!({ "offer_id": offer }),
        )
        .await;
    assert_eq!(status, 201, "{bought}");
    bought
}

#[actix_web::test]
async fn a_package_is_bought_spent_given_back_and_expires() {
    let fake = FakeStripe::start().await;
    let (app, clock) = billing_app(&fake).await;
    let s = school(&app, 1).await;
    let family = s.parent.family_id.clone().unwrap();
    let kid = s.kids[0].as_str();

    // Three hour-long lessons for £100, for 30 days; only admins sell.
    let offer = json!({
        "name": "Three hours of maths", "lessons": 3, "duration_min": 60,
        "price_pence": 10_000, "valid_days": 30
    });
    let (status, body) = app
        .post(
            "/api/v1/admin/packages",
            Some(&s.parent.token),
            offer.clone(),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let mut bad = offer.clone();
    bad["lessons"] = json!(0);
    let (status, body) = app
        .post("/api/v1/admin/packages", Some(&s.admin.token), bad)
        .await;
    assert_eq!((status, &body["error"]), (422, &json!("invalid")), "{body}");
    let (status, made) = app
        .post("/api/v1/admin/packages", Some(&s.admin.token), offer)
        .await;
    assert_eq!(status, 201, "{made}");
    let offer_id = made["id"].as_str().unwrap().to_owned();
    let (_, on_sale) = app.get("/api/v1/packages", Some(&s.parent.token)).await;
    assert_eq!(on_sale[0]["id"], offer_id.as_str(), "{on_sale}");
    assert_eq!(on_sale[0]["price_pence"], 10_000);

    // No card yet: a PaymentIntent for the app to confirm, nothing paid.
    let bought = buy(&app, &s.parent, &offer_id).await;
    let a = bought["package"]["id"].as_str().unwrap().to_owned();
    assert_eq!(bought["package"]["status"], "pending", "{bought}");
    assert!(
        bought["client_secret"]
            .as_str()
            .unwrap()
            .contains("_secret_")
    );
    let sent = fake.requests_to("POST", "/v1/payment_intents");
    assert_eq!(sent.len(), 1);
    let pi = &sent[0];
    assert_eq!(pi.field("amount"), Some("10000"));
    assert_eq!(pi.field("currency"), Some("gbp"));
    assert_eq!(pi.field("customer"), Some("cus_standin1"));
    assert_eq!(pi.field("metadata[package_id]"), Some(a.as_str()));
    assert_eq!(pi.field("metadata[family_id]"), Some(family.as_str()));
    assert_eq!(pi.field("confirm"), None, "the parent confirms it");
    assert_eq!(pi.field("off_session"), None, "the parent is here");
    assert_eq!(
        pi.idempotency_key.as_deref(),
        Some(format!("package:{a}").as_str())
    );
    let mut spend = booking(&s.tutor, &[kid], "2027-03-11T16:00");
    spend["use_package"] = json!(true);
    let (status, body) = app
        .post("/api/v1/bookings", Some(&s.parent.token), spend.clone())
        .await;
    assert_eq!(status, 409, "unpaid lessons are not spendable: {body}");

    // Stripe says the parent paid: three lessons, once.
    let intent = bought["package"]["payment_intent"].as_str().unwrap();
    let mut object = stripe::payment_intent(intent, 10_000, Some("cus_standin1"), "succeeded");
    object["metadata"] = json!({ "package_id": a, "family_id": family });
    let event = stripe::event("evt_pkg_a", "payment_intent.succeeded", now_secs(), object);
    let signed = stripe::signature(&event, now_secs());
    let (status, answer) = webhook(&app, &event, Some(&signed)).await;
    assert_eq!((status, &answer["handled"]), (200, &json!("applied")));
    let (_, answer) = webhook(&app, &event, Some(&signed)).await;
    assert_eq!(answer["handled"], "replayed");
    let paid = package(&app, &s.parent, &a).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["expires_at"], "2027-04-09T12:00:00Z");
    assert_eq!(units(&paid), (3, 0, 0));
    assert_eq!(
        balance(&app, &format!("prepaid_packages:{family}")).await,
        -10_000
    );
    assert_eq!(balance(&app, "stripe_clearing").await, 10_000);

    // With the saved card it is paid at once, or declined.
    save_card(&app, &fake, &s.parent, "pm_visa").await;
    fake.refuse_next_charges(&["card_declined"]);
    let declined = buy(&app, &s.parent, &offer_id).await;
    assert_eq!(declined["package"]["status"], "failed", "{declined}");
    assert_eq!(declined["package"]["failure"], "card_declined");
    assert_eq!(units(&declined["package"]), (0, 0, 0));
    clock.set("2027-03-10T13:00:00Z".parse().unwrap());
    let at_once = buy(&app, &s.parent, &offer_id).await;
    let c = at_once["package"]["id"].as_str().unwrap().to_owned();
    assert_eq!(at_once["package"]["status"], "paid", "{at_once}");
    assert_eq!(at_once.get("client_secret"), None);
    let confirmed = fake.requests_to("POST", "/v1/payment_intents");
    let last = confirmed.last().unwrap();
    assert_eq!(
        (last.field("payment_method"), last.field("confirm")),
        (Some("pm_visa"), Some("true"))
    );
    assert_eq!(balance(&app, "stripe_clearing").await, 20_000);
    // Reconciliation finds it at Stripe by its Charge.
    let moved = app
        .store
        .as_ref()
        .unwrap()
        .stripe_movements(
            "2027-03-10T00:00:00Z".parse().unwrap(),
            "2027-03-11T00:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();
    let pi_c = at_once["package"]["payment_intent"].as_str().unwrap();
    assert!(
        moved.iter().any(|m| m.ours == format!("package:{c}")
            && m.amount == 10_000
            && m.source.as_deref() == Some(format!("ch_{pi_c}").as_str())),
        "{moved:?}"
    );

    // Two bookings spend two of the first package's lessons (it expires
    // first); a lesson of another length finds none.
    let held = book_ok(&app, &s.parent, spend).await;
    let held_id = held["id"].as_str().unwrap().to_owned();
    let mut later = booking(&s.tutor, &[kid], "2027-03-12T16:00");
    later["use_package"] = json!(true);
    let later = book_ok(&app, &s.parent, later).await;
    assert_eq!(units(&package(&app, &s.parent, &a).await), (1, 2, 0));
    assert_eq!(units(&package(&app, &s.parent, &c).await), (3, 0, 0));
    let mut short = booking(&s.tutor, &[kid], "2027-03-13T16:00");
    short["use_package"] = json!(true);
    short["duration_min"] = json!(30);
    let (status, body) = app
        .post("/api/v1/bookings", Some(&s.parent.token), short)
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("package"));

    // Cancelled with notice: the lesson goes back to the package.
    let (status, cancelled) =
        common::sched::cancel(&app, &s.parent, &later, json!({ "reason": "half term" })).await;
    assert_eq!(
        (status, &cancelled["chargeable"]),
        (200, &json!(false)),
        "{cancelled}"
    );
    assert_eq!(units(&package(&app, &s.parent, &a).await), (2, 1, 0));
    // Two more: one the tutor never starts, one cancelled late.
    let mut missed = booking(&s.tutor, &[kid], "2027-03-11T18:00");
    missed["use_package"] = json!(true);
    let missed = book_ok(&app, &s.parent, missed).await;
    let missed_id = missed["id"].as_str().unwrap().to_owned();
    let mut late = booking(&s.tutor, &[kid], "2027-03-12T10:00");
    late["use_package"] = json!(true);
    let late = book_ok(&app, &s.parent, late).await;
    assert_eq!(units(&package(&app, &s.parent, &a).await), (0, 3, 0));

    // Held: not charged to the card; the unit's £33.34 is the tutor's 80 %
    // and the platform's 20 %.
    clock.set("2027-03-11T16:00:00Z".parse().unwrap());
    hold(&app, &s.tutor, &held_id, &[kid]).await;
    let (_, overview) = app.get("/api/v1/billing", Some(&s.parent.token)).await;
    assert_eq!(overview["charges"], json!([]), "{overview}");
    assert_eq!(
        fake.requests_to("POST", "/v1/payment_intents").len(),
        3,
        "no charge for a package lesson"
    );
    assert_eq!(
        balance(&app, &format!("tutor_payable:{}", s.tutor.id)).await,
        -2_667
    );
    assert_eq!(balance(&app, "platform_revenue").await, -667);
    // Cancelled 18 hours ahead: the lesson is spent, as a card would be
    // charged (£33.33: 2,666 and 667).
    let (status, cancelled) =
        common::sched::cancel(&app, &s.parent, &late, json!({ "reason": "ill" })).await;
    assert_eq!((status, &cancelled["chargeable"]), (200, &json!(true)));
    assert_eq!(units(&package(&app, &s.parent, &a).await), (0, 3, 0));
    assert_eq!(
        balance(&app, &format!("tutor_payable:{}", s.tutor.id)).await,
        -5_333
    );
    // The tutor never starts: the lesson goes back to the package.
    clock.set("2027-03-11T18:16:00Z".parse().unwrap());
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
    assert_eq!(units(&package(&app, &s.parent, &a).await), (1, 2, 0));
    let (_, statement) = app
        .get(
            "/api/v1/billing/statement?month=2027-03",
            Some(&s.parent.token),
        )
        .await;
    let line = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lesson_id"] == held_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (&line["paid_with"], &line["charged"]),
        (&json!("package"), &json!(0)),
        "{statement}"
    );

    // Thirty days on, what nobody spent expires to the platform.
    clock.set("2027-04-09T14:00:00Z".parse().unwrap());
    let deadline = std::time::Instant::now() + common::WAIT;
    while units(&package(&app, &s.parent, &c).await) != (0, 0, 3) {
        assert!(std::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(units(&package(&app, &s.parent, &a).await), (0, 2, 1));
    let mut too_late = booking(&s.tutor, &[kid], "2027-04-12T16:00");
    too_late["use_package"] = json!(true);
    let (status, _) = app
        .post("/api/v1/bookings", Some(&s.parent.token), too_late)
        .await;
    assert_eq!(status, 409);
    assert_eq!(
        balance(&app, &format!("prepaid_packages:{family}")).await,
        0
    );
    // Two fees of 667, 3,333 of the first package, 10,000 of the second.
    assert_eq!(balance(&app, "platform_revenue").await, -14_667);
    assert_eq!(
        balance(&app, &format!("tutor_payable:{}", s.tutor.id)).await,
        -5_333
    );
    assert_ledger_sound(&app).await;
}
