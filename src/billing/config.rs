//! `[stripe]` and `[billing]` (docs/billing.md). Without
//! `stripe.secret_key` billing is off: the server says so in its log,
//! nothing is charged and lessons work as before.

use serde::{Deserialize, Serialize};

/// Stripe's API and webhooks.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StripeConfig {
    /// `sk_live_…`/`sk_test_…`; unset: billing off.
    pub secret_key: Option<String>,
    /// `whsec_…`: the `Stripe-Signature` of `POST /webhooks/stripe` is
    /// checked with it; unset: every webhook is refused.
    pub webhook_secret: Option<String>,
    /// Stripe's API root; tests point it at a local server.
    pub api_base: String,
    /// Seconds a webhook's signed timestamp may be old (or ahead).
    pub webhook_tolerance_secs: i64,
    /// Seconds before a Stripe request times out.
    pub timeout_secs: u64,
}

impl Default for StripeConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            webhook_secret: None,
            api_base: "https://api.stripe.com/".into(),
            webhook_tolerance_secs: 300,
            timeout_secs: 30,
        }
    }
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("StripeConfig")
            .field("secret_key", &redacted(&self.secret_key))
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("api_base", &self.api_base)
            .field("webhook_tolerance_secs", &self.webhook_tolerance_secs)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// The business's money rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingConfig {
    /// The platform's share of each charge, in basis points (2000 = 20 %).
    pub platform_fee_bps: i64,
    /// ISO currency of every charge, lower case.
    pub currency: String,
    /// The sibling discount by a child's rank in a week, in basis points:
    /// first child, second, third and beyond.
    pub sibling_discount_bps: Vec<i64>,
    /// The weekday tutors are paid on (`mon` … `sun`).
    pub payout_weekday: String,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            platform_fee_bps: 2000,
            currency: "gbp".into(),
            sibling_discount_bps: vec![0, 1000, 1500],
            payout_weekday: "fri".into(),
        }
    }
}
