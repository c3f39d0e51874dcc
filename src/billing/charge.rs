//! Charging a completed lesson (docs/billing.md, "Charging"). The charges
//! are planned before the completion's transaction and written inside it,
//! with their `charge_requested` entries, so a lesson is completed and
//! owed together or not at all. The [`Charger`] then sends each pending
//! charge to Stripe: every attempt claims itself in the store first and
//! carries the key `charge:<lesson>:<family>:<purpose>:<attempt>`, so a
//! crash and retry of an attempt gets Stripe's first answer back and a
//! family is never charged twice. Stripe's answer, or its webhook, moves
//! the charge on; the money-moving step posts its entry in the same
//! transaction.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cms_actors::messages::Push;
use cms_domain::charge::{self, ChargePurpose, ChargeStatus};
use cms_domain::ledger::{Account, Entry, EntryKind};
use cms_domain::money::{self, Bps, Seat, SiblingDiscount};
use cms_domain::package;
use cms_protocol::board::{AlertKind, BoardAlert};
use cms_protocol::{Topic, event};
use cms_store::charges::{ChargeRow, ChargedSeat, NewCharge};
use cms_store::ledger::KeyedEntry;
use cms_store::lessons::LessonState;
use cms_store::{Store, StoreError};
use tokio::sync::Notify;

use super::Billing;
use super::config::BillingConfig;
use super::stripe::{
    AUTHENTICATION_REQUIRED, ChargeRequest, Charged, IntentStatus, StripeFailure,
    asks_for_authentication,
};

/// Attempts at most for a charge Stripe declines; then it fails.
const MAX_ATTEMPTS: u32 = 4;
/// Charges sent per sweep.
const BATCH: u32 = 50;
/// How often pending charges are looked at when nothing wakes the charger.
const SWEEP_EVERY_SECS: i64 = 60;

/// The money rules from `[billing]`, checked once at start.
#[derive(Debug, Clone)]
pub struct ChargeRules {
    pub fee: Bps,
    pub discount: SiblingDiscount,
    /// Lower case, as Stripe writes it.
    pub currency: String,
    /// The weekday tutors are paid on.
    pub payday: chrono::Weekday,
}

impl ChargeRules {
    pub fn from_config(cfg: &BillingConfig) -> Result<Self, String> {
        let fee =
            Bps::new(cfg.platform_fee_bps).map_err(|e| format!("billing.platform_fee_bps: {e}"))?;
        let tiers = cfg
            .sibling_discount_bps
            .iter()
            .map(|b| Bps::new(*b))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("billing.sibling_discount_bps: {e}"))?;
        let discount = SiblingDiscount::new(tiers)
            .map_err(|e| format!("billing.sibling_discount_bps: {e}"))?;
        let payday = cfg.payout_weekday.parse().map_err(|_| {
            format!(
                "billing.payout_weekday: {:?} is not a weekday (mon … sun)",
                cfg.payout_weekday
            )
        })?;
        Ok(Self {
            fee,
            discount,
            currency: cfg.currency.to_ascii_lowercase(),
            payday,
        })
    }
}

/// What the completion of a lesson needs to charge for it: the rules, and
/// the charger to wake once it has committed.
#[derive(Clone)]
pub struct Charging {
    pub rules: ChargeRules,
    pub charger: ChargerHandle,
}

/// Each family's week around a lesson: its children in order and its
/// seats that week. Read before the completion's transaction.
pub struct Week {
    seats: Vec<(String, Seat)>,
}

/// Reads each family's week of the lesson (Monday to Sunday, UK time).
pub async fn week_of(store: &Store, l: &LessonState) -> Result<Week, StoreError> {
    let monday = money::week_of(l.starts_at, money::UK);
    let (from, to) = money::week_bounds(monday);
    let mut families: Vec<&str> = l.seats.iter().map(|s| s.family_id.as_str()).collect();
    families.sort_unstable();
    families.dedup();
    let mut seats = Vec::new();
    for family in families {
        for s in family_seats(store, family, from, to).await? {
            seats.push((family.to_owned(), s.seat));
        }
    }
    Ok(Week { seats })
}

/// One of a family's seats in a week, as the sibling discount ranks it.
pub struct WeekSeat {
    pub lesson_id: String,
    /// Paid with a makeup credit or a package lesson.
    pub prepaid: bool,
    pub seat: Seat,
}

/// The family's children's seats in lessons held (or to be held) in
/// `[from, to)`, with each child's place in the family.
pub async fn family_seats(
    store: &Store,
    family: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<WeekSeat>, StoreError> {
    let children = store.family_children(family).await?;
    let order: HashMap<&str, u32> = children
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    let mut seats = Vec::new();
    for lesson in store.family_week_lessons(family, from, to).await? {
        for student in &lesson.students {
            if let Some(&child_order) = order.get(student.as_str()) {
                seats.push(WeekSeat {
                    lesson_id: lesson.id.clone(),
                    prepaid: lesson.prepaid.contains(student),
                    seat: Seat {
                        student: student.clone(),
                        child_order,
                        start: lesson.start,
                        price: lesson.price,
                    },
                });
            }
        }
    }
    Ok(seats)
}

/// The charges and entries owed for `students`' seats in `l`: every seat
/// when it is completed (`ChargePurpose::Lesson`), the leaving ones when
/// they are cancelled late.
pub fn plan(
    rules: &ChargeRules,
    week: &Week,
    l: &LessonState,
    purpose: ChargePurpose,
    students: &[String],
) -> (Vec<NewCharge>, Vec<KeyedEntry>) {
    let lesson_seats: Vec<(String, Seat)> = week
        .seats
        .iter()
        .filter(|(_, s)| s.start == l.starts_at && students.contains(&s.student))
        .cloned()
        .collect();
    let planned = charge::for_lesson(
        purpose,
        &lesson_seats,
        &week.seats,
        &l.prepaid_student_ids(),
        &rules.discount,
        rules.fee,
        money::UK,
    );
    let mut charges = Vec::new();
    let mut entries = Vec::new();
    for p in planned {
        if let Some(entry) = p.requested_entry(&l.tutor_id) {
            entries.push(KeyedEntry {
                key: format!("charge:{}:{}:{}:requested", l.id, p.family, p.purpose),
                entry,
                about: Some(format!("charge:{}:{}:{}", l.id, p.family, p.purpose)),
            });
        }
        charges.push(NewCharge {
            lesson: l.id.clone(),
            family: p.family.clone(),
            tutor: l.tutor_id.clone(),
            purpose: p.purpose,
            amount: p.split.gross,
            fee: p.split.fee,
            net: p.split.net,
            discount: p.discount,
            currency: rules.currency.clone(),
            seats: p
                .seats
                .iter()
                .map(|(student, priced)| ChargedSeat {
                    student: student.clone(),
                    price: priced.price,
                    discount: priced.discount,
                    pay: priced.pay,
                })
                .collect(),
        });
    }
    // Seats paid from a package: the tutor earns their share of the
    // unit's worth now, as a charge would have paid them.
    for u in l
        .package_units
        .iter()
        .filter(|u| students.contains(&u.student_id))
    {
        if let Some(entry) = package::used_entry(&u.family_id, &l.tutor_id, u.value, rules.fee) {
            entries.push(KeyedEntry {
                key: format!("package_unit:{}:used:{}", u.id, l.id),
                entry,
                about: Some(format!("package_unit:{}", u.id)),
            });
        }
    }
    (charges, entries)
}

/// Wakes the charger: a completion has written charges.
#[derive(Clone, Default)]
pub struct ChargerHandle(Arc<Notify>);

impl ChargerHandle {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Sends pending charges to Stripe, when woken and every minute on the
/// injected clock.
pub struct Charger;

impl Charger {
    pub fn start(deps: Billing, handle: ChargerHandle) {
        tokio::spawn(async move {
            loop {
                process_due(&deps).await;
                super::payouts::run_due(&deps).await;
                super::packages::expire_due(&deps).await;
                super::statement::run_due(&deps).await;
                let next = deps.clock.now() + Duration::seconds(SWEEP_EVERY_SECS);
                tokio::select! {
                    () = handle.0.notified() => {}
                    () = deps.clock.sleep_until(next) => {}
                }
            }
        });
    }
}

/// Sends every charge whose time has come; answers how many were sent.
pub async fn process_due(deps: &Billing) -> usize {
    let due = match deps.store.charges_due(deps.clock.now(), BATCH).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "charges could not be read");
            return 0;
        }
    };
    let n = due.len();
    for c in due {
        if let Err(e) = process_one(deps, &c).await {
            tracing::warn!(charge = %c.key(), error = %e, "charge not sent; tried again later");
        }
    }
    n
}

fn backoff(attempt: u32) -> Duration {
    Duration::minutes(10 * (1i64 << attempt.min(6)))
}

/// Who is there when a charge is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// The charger, after the lesson: `off_session`.
    Away,
    /// The parent, confirming it in the app: the bank may check them now,
    /// and they are answered directly rather than sent a notice.
    Here,
}

/// One attempt at a charge, while the parent is away.
pub async fn process_one(deps: &Billing, c: &ChargeRow) -> Result<(), StoreError> {
    send(deps, c, Session::Away).await.map(|_| ())
}

/// One attempt at a charge; Stripe's PaymentIntent when it made one.
pub async fn send(
    deps: &Billing,
    c: &ChargeRow,
    session: Session,
) -> Result<Option<Charged>, StoreError> {
    let tell = session == Session::Away;
    let Some(stripe) = deps.stripe.as_ref() else {
        return Ok(None);
    };
    let now = deps.clock.now();
    let card = deps
        .store
        .billing_customer(&c.family_id)
        .await?
        .and_then(|cust| cust.card.map(|card| (cust.stripe_customer, card)));
    let Some((customer, card)) = card else {
        // Nothing to charge: the parent must add a card first.
        return stop_as(
            deps,
            c,
            ChargeStatus::RequiresAction,
            "no_card_on_file",
            tell,
            now,
        )
        .await
        .map(|()| None);
    };
    // Claimed before Stripe is called: a crash from here is retried at
    // `retry_at` with this attempt's key.
    let attempt = match deps
        .store
        .charge_attempt(c, now + backoff(c.attempts), now)
        .await
    {
        Ok(a) => a,
        // Another worker took this attempt.
        Err(StoreError::Refused(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let key = format!("charge:{}:{attempt}", c.key());
    let description = format!("Lesson {}", c.lesson_id);
    let answer = stripe
        .charge(&ChargeRequest {
            key: &key,
            amount: c.amount,
            currency: &c.currency,
            customer: &customer,
            payment_method: &card.payment_method,
            lesson: &c.lesson_id,
            family: &c.family_id,
            description: &description,
            on_session: session == Session::Here,
        })
        .await;
    let now = deps.clock.now();
    match answer {
        Ok(charged) => {
            deps.store
                .charge_intent(c, &charged.payment_intent, charged.charge.as_deref(), now)
                .await?;
            match charged.status {
                IntentStatus::Succeeded => succeeded(deps, c, now).await?,
                IntentStatus::Processing => {}
                IntentStatus::RequiresAction => {
                    stop_as(
                        deps,
                        c,
                        ChargeStatus::RequiresAction,
                        AUTHENTICATION_REQUIRED,
                        tell,
                        now,
                    )
                    .await?;
                }
                IntentStatus::Failed => {
                    stop_as(deps, c, ChargeStatus::Failed, "declined", true, now).await?;
                }
            }
            Ok(Some(charged))
        }
        Err(StripeFailure::Refused { code, .. }) => {
            let code = code.unwrap_or_else(|| "refused".into());
            if asks_for_authentication(&code) {
                stop_as(deps, c, ChargeStatus::RequiresAction, &code, tell, now).await?;
            } else if attempt >= MAX_ATTEMPTS {
                stop(deps, c, ChargeStatus::Failed, &code, now).await?;
            } else {
                // A new attempt, with a new key, at the retry time.
                deps.store.charge_answered(c, now).await?;
            }
            Ok(None)
        }
        // Stripe out of reach: the same attempt, same key, at retry time.
        Err(StripeFailure::Unavailable) => Ok(None),
    }
}

/// The charge cannot go through now: stopped with `code`, the family's
/// notice due (the scheduler woken for it), and a failure said on the
/// admins' board.
pub async fn stop(
    deps: &Billing,
    c: &ChargeRow,
    status: ChargeStatus,
    code: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    stop_as(deps, c, status, code, true, now).await
}

/// [`stop`], telling the family only when `tell` (not when they are in
/// the app being answered).
async fn stop_as(
    deps: &Billing,
    c: &ChargeRow,
    status: ChargeStatus,
    code: &str,
    tell: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if !deps
        .store
        .charge_stopped(c, status, code, tell, now)
        .await?
    {
        return Ok(());
    }
    deps.notifier.wake();
    if status == ChargeStatus::Failed {
        let payload = BoardAlert {
            kind: AlertKind::PaymentFailed,
            lesson_id: c.lesson_id.clone(),
            message: format!(
                "Payment of {} for lesson {} failed ({code}); the lesson is unpaid",
                crate::notify::text::pounds(c.amount),
                c.lesson_id
            ),
            at: now,
        };
        deps.broker
            .publish(Push::new(Topic::AdminMonitor, event::BOARD_ALERT, &payload));
    }
    Ok(())
}

/// The charge went through: `charge_succeeded` posts clearing up,
/// receivable down, once (its entry's key), and the receipt is due.
pub async fn succeeded(
    deps: &Billing,
    c: &ChargeRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let store = &deps.store;
    let Some(entry) = Entry::new(
        EntryKind::ChargeSucceeded,
        vec![
            (Account::StripeClearing, c.amount),
            (Account::FamilyReceivable(c.family_id.clone()), -c.amount),
        ],
    ) else {
        return Ok(());
    };
    let keyed = KeyedEntry {
        key: format!("charge:{}:succeeded", c.key()),
        entry,
        about: Some(format!("charge:{}", c.key())),
    };
    store.charge_succeeded(c, &keyed, now).await?;
    deps.notifier.wake();
    Ok(())
}
