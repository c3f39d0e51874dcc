//! A local stand-in for Stripe's API for tests: it answers the paths billing
//! calls with Stripe-shaped JSON (the objects as Stripe's API reference
//! shows them), keeps what it made so an idempotency key replayed gets the
//! first answer back (as Stripe does for 24 hours), and records every
//! request — method, path, form fields, `Idempotency-Key`,
//! `Stripe-Account`, `Authorization` — so tests check exactly what the
//! server sent. It also signs webhook events the way Stripe does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

pub const SECRET_KEY: &str = "sk_test_standin";
pub const WEBHOOK_SECRET: &str = "whsec_standin";

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub stripe_account: Option<String>,
    /// Form fields, in the order sent (Stripe's bracketed keys as sent:
    /// `metadata[family_id]`).
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    /// (path, idempotency key) → the answer first given.
    answered: HashMap<(String, String), Value>,
    /// Cards the stand-in knows, by payment method id.
    cards: HashMap<String, (String, String, i64, i64)>,
    /// Error codes the next new PaymentIntents are refused with (a card
    /// declined, authentication required), in order; then they succeed.
    refuse_next: Vec<String>,
    /// The platform balance's transactions, as Stripe lists them.
    balance: Vec<Value>,
    /// New PaymentIntents still to make but answer with a 500, as when
    /// Stripe takes a charge and its answer never arrives.
    lose_next_answers: usize,
    /// New confirmed PaymentIntents still to answer `requires_action`, as
    /// when the bank checks a parent who is present (3-D Secure).
    authenticate_next: usize,
    next: u64,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub struct FakeStripe {
    /// "http://127.0.0.1:<port>/": the server's `stripe.api_base`.
    pub base: String,
    state: Shared,
    handle: ServerHandle,
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let state = Shared::default();
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v1/customers", web::post().to(create_customer))
                .route("/v1/setup_intents", web::post().to(create_setup_intent))
                .route("/v1/payment_methods/{id}", web::get().to(payment_method))
                .route("/v1/accounts", web::post().to(create_account))
                .route("/v1/payment_intents", web::post().to(create_payment_intent))
                .route("/v1/transfers", web::post().to(create_transfer))
                .route(
                    "/v1/balance_transactions",
                    web::get().to(balance_transactions),
                )
                .route("/v1/payouts", web::post().to(create_payout))
                .route("/v1/account_links", web::post().to(create_account_link))
                .default_service(web::to(unknown))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .bind(("127.0.0.1", 0))
        .expect("the Stripe stand-in binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        FakeStripe {
            base: format!("http://127.0.0.1:{port}/"),
            state,
            handle,
        }
    }

    /// A card the stand-in will describe when asked for `pm`.
    pub fn add_card(&self, pm: &str, brand: &str, last4: &str, exp_month: i64, exp_year: i64) {
        lock(&self.state).cards.insert(
            pm.to_owned(),
            (brand.to_owned(), last4.to_owned(), exp_month, exp_year),
        );
    }

    /// The next new PaymentIntents are refused with these codes, in order.
    pub fn refuse_next_charges(&self, codes: &[&str]) {
        lock(&self.state).refuse_next = codes.iter().map(|c| (*c).to_owned()).collect();
    }

    /// The next `n` new PaymentIntents are made (and kept under their
    /// keys) but answered with a 500.
    pub fn authenticate_next_charges(&self, n: usize) {
        lock(&self.state).authenticate_next = n;
    }

    pub fn lose_next_charge_answers(&self, n: usize) {
        lock(&self.state).lose_next_answers = n;
    }

    /// A balance transaction Stripe has and the ledger may not (a charge
    /// made outside the platform, say).
    pub fn add_balance_transaction(&self, source: &str, kind: &str, amount: i64) {
        let mut s = lock(&self.state);
        s.next += 1;
        let id = format!("txn_standin{}", s.next);
        s.balance.push(balance_line(&id, kind, source, amount));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// The requests to `method path`.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Turns billing on in `config`, against the stand-in.
pub fn billing_on(config: &mut cms_server::config::Config, fake: &FakeStripe) {
    config.stripe.secret_key = Some(SECRET_KEY.into());
    config.stripe.webhook_secret = Some(WEBHOOK_SECRET.into());
    config.stripe.api_base = fake.base.clone();
}

/// `body` signed as Stripe signs a webhook sent at `t` (unix seconds).
pub fn signature(body: &str, t: i64) -> String {
    cms_server::billing::webhook::sign(body.as_bytes(), WEBHOOK_SECRET, t)
}

/// A Stripe event wrapping `object`, as Stripe posts it.
pub fn event(id: &str, kind: &str, created: i64, object: Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2025-08-27.basil", "created": created,
        "data": { "object": object }, "livemode": false, "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null }, "type": kind
    })
    .to_string()
}

/// A succeeded SetupIntent as `setup_intent.succeeded` carries it.
pub fn succeeded_setup_intent(id: &str, customer: &str, pm: &str, created: i64) -> Value {
    json!({
        "id": id, "object": "setup_intent", "application": null, "automatic_payment_methods": null,
        "cancellation_reason": null, "client_secret": format!("{id}_secret_x"), "created": created,
        "customer": customer, "description": null, "flow_directions": null, "last_setup_error": null,
        "latest_attempt": "setatt_1", "livemode": false, "mandate": null, "metadata": {},
        "next_action": null, "on_behalf_of": null, "payment_method": pm,
        "payment_method_options": { "card": { "mandate_options": null, "network": null, "request_three_d_secure": "automatic" } },
        "payment_method_types": ["card"], "single_use_mandate": null, "status": "succeeded",
        "usage": "off_session"
    })
}

fn record(state: &Shared, req: &HttpRequest, body: &[u8]) -> Recorded {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let r = Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        stripe_account: header("stripe-account"),
        form,
    };
    lock(state).requests.push(r.clone());
    r
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default()).json(
        json!({ "error": { "code": code, "message": message, "type": "invalid_request_error" } }),
    )
}

/// The answer for a POST: the one first given for its idempotency key, or
/// `make()`'s, kept under the key.
fn idempotent(
    state: &Shared,
    r: &Recorded,
    make: impl FnOnce(&mut State) -> Value,
) -> HttpResponse {
    let mut s = lock(state);
    let key = r.idempotency_key.clone().map(|k| (r.path.clone(), k));
    if let Some(k) = &key
        && let Some(first) = s.answered.get(k)
    {
        return HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(first.clone());
    }
    let answer = make(&mut s);
    if let Some(k) = key {
        s.answered.insert(k, answer.clone());
    }
    HttpResponse::Ok().json(answer)
}

fn authorized(r: &Recorded) -> bool {
    r.authorization.as_deref() == Some(&format!("Bearer {SECRET_KEY}"))
}

async fn create_customer(
    state: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let r = record(&state, &req, &body);
    if !authorized(&r) {
        return error(401, "api_key_invalid", "Invalid API Key provided");
    }
    let (email, name, family) = (
        r.field("email").map(str::to_owned),
        r.field("name").map(str::to_owned),
        r.field("metadata[family_id]").map(str::to_owned),
    );
    idempotent(&state, &r, |s| {
        s.next += 1;
        json!({
            "id": format!("cus_standin{}", s.next), "object": "customer", "address": null,
            "balance": 0, "created": 1_773_100_000, "currency": null, "default_source": null,
            "delinquent": false, "description": null, "discount": null, "email": email,
            "invoice_prefix": format!("INV{}", s.next),
            "invoice_settings": { "custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null },
            "livemode": false, "metadata": { "family_id": family }, "name": name,
            "next_invoice_sequence": 1, "phone": null, "preferred_locales": [], "shipping": null,
            "tax_exempt": "none", "test_clock": null
        })
    })
}

async fn create_setup_intent(
    state: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let r = record(&state, &req, &body);
    if !authorized(&r) {
        return error(401, "api_key_invalid", "Invalid API Key provided");
    }
    let customer = r.field("customer").map(str::to_owned);
    let usage = r.field("usage").unwrap_or("off_session").to_owned();
    idempotent(&state, &r, |s| {
        s.next += 1;
        let id = format!("seti_standin{}", s.next);
        json!({
            "id": id, "object": "setup_intent", "application": null,
            "automatic_payment_methods": null, "cancellation_reason": null,
            "client_secret": format!("{id}_secret_standin"), "created": 1_773_100_000,
            "customer": customer, "description": null, "flow_directions": null,
            "last_setup_error": null, "latest_attempt": null, "livemode": false, "mandate": null,
            "metadata": {}, "next_action": null, "on_behalf_of": null, "payment_method": null,
            "payment_method_configuration_details": null,
            "payment_method_options": { "card": { "mandate_options": null, "network": null, "request_three_d_secure": "automatic" } },
            "payment_method_types": ["card"], "single_use_mandate": null,
            "status": "requires_payment_method", "usage": usage
        })
    })
}

async fn payment_method(
    state: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let r = record(&state, &req, &[]);
    if !authorized(&r) {
        return error(401, "api_key_invalid", "Invalid API Key provided");
    }
    let id = path.into_inner();
    let Some((brand, last4, exp_month, exp_year)) = lock(&state).cards.get(&id).cloned() else {
        return error(
            404,
            "resource_missing",
            &format!("No such PaymentMethod: '{id}'"),
        );
    };
    HttpResponse::Ok().json(json!({
        "id": id, "object": "payment_method", "allow_redisplay": "always",
        "billing_details": { "address": { "city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null }, "email": null, "name": null, "phone": null, "tax_id": null },
        "card": {
            "brand": brand, "checks": { "address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass" },
            "country": "GB", "display_brand": brand, "exp_month": exp_month, "exp_year": exp_year,
            "fingerprint": "Xt5EWLLDS7FJjR1c", "funding": "credit", "generated_from": null, "last4": last4,
            "networks": { "available": [brand], "preferred": null }, "regulated_status": "unregulated",
            "three_d_secure_usage": { "supported": true }, "wallet": null
        },
        "created": 1_773_100_000, "customer": null, "livemode": false, "metadata": {}, "type": "card"
    }))
}

/// An Express account as Stripe answers its creation: nothing submitted,
/// no payouts yet.
pub fn account(
    id: &str,
    email: Option<&str>,
    payouts_enabled: bool,
    details_submitted: bool,
) -> Value {
    json!({
        "id": id, "object": "account",
        "business_profile": { "mcc": null, "name": null, "product_description": null, "support_address": null, "support_email": null, "support_phone": null, "support_url": null, "url": null },
        "business_type": null,
        "capabilities": { "transfers": if payouts_enabled { "active" } else { "inactive" } },
        "charges_enabled": false, "country": "GB", "created": 1_773_100_000,
        "default_currency": "gbp", "details_submitted": details_submitted, "email": email,
        "external_accounts": { "object": "list", "data": [], "has_more": false, "url": format!("/v1/accounts/{id}/external_accounts") },
        "future_requirements": { "alternatives": [], "current_deadline": null, "currently_due": [], "disabled_reason": null, "errors": [], "eventually_due": [], "past_due": [], "pending_verification": [] },
        "metadata": {}, "payouts_enabled": payouts_enabled,
        "requirements": { "alternatives": [], "current_deadline": null, "currently_due": ["external_account"], "disabled_reason": "requirements.past_due", "errors": [], "eventually_due": ["external_account"], "past_due": ["external_account"], "pending_verification": [] },
        "settings": null, "tos_acceptance": { "date": null, "ip": null, "user_agent": null }, "type": "express"
    })
}

async fn create_account(
    state: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let r = record(&state, &req, &body);
    if !authorized(&r) {
        return error(401, "api_key_invalid", "Invalid API Key provided");
    }
    let email = r.field("email").map(str::to_owned);
    idempotent(&state, &r, |s| {
        s.next += 1;
        account(
            &format!("acct_standin{}", s.next),
            email.as_deref(),
            false,
            false,
        )
    })
}

async fn create_account_link(
    state: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let r = record(&state, &req, &body);
    if !authorized(&r) {
        return error(401, "api_key_invalid", "Invalid API Key provided");
    }
    let Some(account) = r.field("account").map(str::to_owned) else {
        return error(400, "parameter_missing", "Missing required param: account.");
    };
    idempotent(&state, &r, |s| {
        s.next += 1;
        json!({
            "object": "account_link", "created": 1_773_100_000, "expires_at": 1_773_100_300,
            "url": format!("https://connect.stripe.com/setup/e/{account}/standin{}", s.next)
        })
    })
}

/// A PaymentIntent as Stripe answers an off-session confirmation.
pub fn payment_intent(id: &str, amount: i64, customer: Option<&str>, status: &str) -> Value {
    json!({
        "id": id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_details": { "tip": {} }, "amount_received": if status == "succeeded" { amount } else { 0 },
        "application": null, "application_fee_amount": null, "automatic_payment_methods": null,
        "canceled_at": null, "cancellation_reason": null, "capture_method": "automatic",
        "client_secret": format!("{id}_secret_standin"), "confirmation_method": "automatic",
        "created": 1_773_100_000, "currency": "gbp", "customer": customer, "description": null,
        "last_payment_error": null, "latest_charge": format!("ch_{id}"), "livemode": false,
        "metadata": {}, "next_action": null, "on_behalf_of": null, "payment_method": "pm_card",
        "payment_method_configuration_details": null,
        "payment_method_options": { "card": { "installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic" } },
        "payment_method_types": ["card"], "processing": null, "receipt_email": null, "review": null,
        "setup_future_usage": null, "shipping": null, "source": null,
        "statement_descriptor": null, "statement_descriptor_suffix": null, "status": status,
        "transfer_data": null, "transfer_group": null
    })
}

async fn create_payment_intent(
    state: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let r = record(&state, &req, &body);
    if !authorized(&r) {
        return error(401, "api_key_invalid", "Invalid API Key provided");
    }
    let amount: i64 = r.field("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    let customer = r.field("customer").map(str::to_owned);
    // A replayed key is answered as first, refusal or not.
    let key = r.idempotency_key.clone().map(|k| (r.path.clone(), k));
    let mut s = lock(&state);
    if let Some(k) = &key
        && let Some(first) = s.answered.get(k)
    {
        let first = first.clone();
        return if first.get("error").is_some() {
            HttpResponse::PaymentRequired().json(first)
        } else {
            HttpResponse::Ok()
                .insert_header(("Idempotent-Replayed", "true"))
                .json(first)
        };
    }
    s.next += 1;
    let id = format!("pi_standin{}", s.next);
    let metadata: serde_json::Map<String, Value> = r
        .form
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((key.to_owned(), json!(v)))
        })
        .collect();
    // Not confirmed: it waits for the parent's card (Stripe.js), and
    // nothing is taken yet.
    let answer = if r.field("confirm") != Some("true") {
        let mut pi = payment_intent(&id, amount, customer.as_deref(), "requires_payment_method");
        pi["latest_charge"] = Value::Null;
        pi["payment_method"] = Value::Null;
        pi
    } else if s.authenticate_next > 0 {
        s.authenticate_next -= 1;
        let mut pi = payment_intent(&id, amount, customer.as_deref(), "requires_action");
        pi["latest_charge"] = Value::Null;
        pi["next_action"] = json!({ "type": "use_stripe_sdk", "use_stripe_sdk": {} });
        pi
    } else if s.refuse_next.is_empty() {
        let txn = format!("txn_{id}");
        s.balance
            .push(balance_line(&txn, "charge", &format!("ch_{id}"), amount));
        payment_intent(&id, amount, customer.as_deref(), "succeeded")
    } else {
        let code = s.refuse_next.remove(0);
        let mut pi = payment_intent(&id, amount, customer.as_deref(), "requires_payment_method");
        pi["last_payment_error"] = json!({ "code": code, "type": "card_error" });
        json!({ "error": {
            "code": code, "message": "Your card was declined.", "type": "card_error",
            "payment_intent": pi
        } })
    };
    let mut answer = answer;
    let pi = if answer.get("error").is_some() {
        &mut answer["error"]["payment_intent"]
    } else {
        &mut answer
    };
    if pi.get("object").is_some() {
        pi["metadata"] = Value::Object(metadata);
    }
    if let Some(k) = key {
        s.answered.insert(k, answer.clone());
    }
    if s.lose_next_answers > 0 {
        s.lose_next_answers -= 1;
        return error(500, "api_error", "An unknown error occurred");
    }
    if answer.get("error").is_some() {
        HttpResponse::PaymentRequired().json(answer)
    } else {
        HttpResponse::Ok().json(answer)
    }
}

async fn create_transfer(
    state: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let r = record(&state, &req, &body);
    if !authorized(&r) {
        return error(401, "api_key_invalid", "Invalid API Key provided");
    }
    let amount: i64 = r.field("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    let destination = r.field("destination").map(str::to_owned);
    let group = r.field("transfer_group").map(str::to_owned);
    idempotent(&state, &r, |s| {
        s.next += 1;
        let id = format!("tr_standin{}", s.next);
        s.balance
            .push(balance_line(&format!("txn_{id}"), "transfer", &id, -amount));
        json!({
            "id": id, "object": "transfer", "amount": amount, "amount_reversed": 0,
            "balance_transaction": format!("txn_{id}"), "created": 1_773_100_000, "currency": "gbp",
            "description": null, "destination": destination, "destination_payment": format!("py_{id}"),
            "livemode": false, "metadata": {},
            "reversals": { "object": "list", "data": [], "has_more": false, "url": format!("/v1/transfers/{id}/reversals") },
            "reversed": false, "source_transaction": null, "source_type": "card", "transfer_group": group
        })
    })
}

async fn create_payout(
    state: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let r = record(&state, &req, &body);
    if !authorized(&r) {
        return error(401, "api_key_invalid", "Invalid API Key provided");
    }
    if r.stripe_account.is_none() {
        return error(
            400,
            "balance_insufficient",
            "The platform's own balance is not paid out here",
        );
    }
    let amount: i64 = r.field("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    idempotent(&state, &r, |s| {
        s.next += 1;
        json!({
            "id": format!("po_standin{}", s.next), "object": "payout", "amount": amount,
            "application_fee": null, "application_fee_amount": null, "arrival_date": 1_773_300_000,
            "automatic": false, "balance_transaction": "txn_po", "created": 1_773_100_000,
            "currency": "gbp", "description": null, "destination": "ba_standin",
            "failure_balance_transaction": null, "failure_code": null, "failure_message": null,
            "livemode": false, "metadata": {}, "method": "standard", "original_payout": null,
            "reconciliation_status": "not_applicable", "reversed_by": null,
            "source_type": "card", "statement_descriptor": null, "status": "pending",
            "trace_id": null, "type": "bank_account"
        })
    })
}

fn balance_line(id: &str, kind: &str, source: &str, amount: i64) -> Value {
    json!({
        "id": id, "object": "balance_transaction", "amount": amount, "available_on": 1_773_300_000,
        "balance_type": "payments", "created": 1_773_100_000, "currency": "gbp", "description": null,
        "exchange_rate": null, "fee": 0, "fee_details": [], "net": amount,
        "reporting_category": kind, "source": source, "status": "available", "type": kind
    })
}

async fn balance_transactions(state: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let r = record(&state, &req, req.query_string().as_bytes());
    if !authorized(&r) {
        return error(401, "api_key_invalid", "Invalid API Key provided");
    }
    let all = lock(&state).balance.clone();
    // Pages of two, newest first, as Stripe pages: `starting_after` an id.
    let mut list: Vec<Value> = all.into_iter().rev().collect();
    if let Some(after) = r.field("starting_after") {
        let at = list
            .iter()
            .position(|t| t["id"] == after)
            .map_or(list.len(), |i| i + 1);
        list.drain(..at);
    }
    let has_more = list.len() > 2;
    list.truncate(2);
    HttpResponse::Ok().json(json!({
        "object": "list", "data": list, "has_more": has_more, "url": "/v1/balance_transactions"
    }))
}

async fn unknown(state: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let r = record(&state, &req, &body);
    error(
        404,
        "resource_missing",
        &format!("Unrecognized request URL ({} {})", r.method, r.path),
    )
}
