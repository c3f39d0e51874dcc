//! Stripe's webhook signature, checked on the raw body before anything is
//! read from it (docs/billing.md, "Webhooks"). The header is
//! `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`; each `v1` is
//! HMAC-SHA256 of `<t>.<body>` keyed with the endpoint's secret, and one
//! must match. A timestamp further than the tolerance from now (the
//! injected clock's, so tests can age a request) is refused: a captured
//! request cannot be replayed later. Written here rather than taken from
//! the Stripe crate because its check reads the system clock.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    #[error("no signature matches")]
    Mismatch,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("the body is not a Stripe event: {0}")]
    Body(String),
}

/// The event kinds billing acts on; any other is recorded and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A card was confirmed for off-session charges.
    SetupIntentSucceeded,
    /// A connected account changed: whether payouts are enabled.
    AccountUpdated,
    /// A charge's PaymentIntent went through.
    PaymentSucceeded,
    /// A charge's PaymentIntent failed (a decline, or the parent did not
    /// authenticate).
    PaymentFailed,
    Other,
}

impl Kind {
    pub fn of(kind: &str) -> Self {
        match kind {
            "setup_intent.succeeded" => Self::SetupIntentSucceeded,
            "account.updated" => Self::AccountUpdated,
            "payment_intent.succeeded" => Self::PaymentSucceeded,
            "payment_intent.payment_failed" => Self::PaymentFailed,
            _ => Self::Other,
        }
    }
}

/// A verified event: what the server reads of it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// `evt_…`: each is processed once.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// When Stripe created it (unix seconds): orders events about one
    /// object.
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// The event in `body` if `header` signs it with `secret` within
/// `tolerance_secs` of `now`.
pub fn verify(
    body: &[u8],
    header: Option<&str>,
    secret: &str,
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> Result<Event, WebhookError> {
    let header = header.ok_or(WebhookError::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<i64>().map_err(|_| WebhookError::Malformed)?)
            }
            Some(("v1", hex_sig)) => signatures.push(hex_sig),
            // v0 and schemes to come are not ours to check.
            Some(_) => {}
            None => return Err(WebhookError::Malformed),
        }
    }
    let t = timestamp.ok_or(WebhookError::Malformed)?;
    if signatures.is_empty() {
        return Err(WebhookError::Malformed);
    }
    let matches = signatures.iter().any(|sig| {
        let Ok(sig) = hex_decode(sig) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // Constant time: the comparison says nothing about how close a
        // guess came.
        mac.verify_slice(&sig).is_ok()
    });
    if !matches {
        return Err(WebhookError::Mismatch);
    }
    if (now.timestamp() - t).abs() > tolerance_secs {
        return Err(WebhookError::Stale);
    }
    serde_json::from_slice(body).map_err(|e| WebhookError::Body(e.to_string()))
}

/// The header Stripe would send for `body` at `t`: for the tests' stand-in
/// and for tools that replay events.
pub fn sign(body: &[u8], secret: &str, t: i64) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes a key of any length.
        Err(_) => return format!("t={t}"),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={sig}")
}

fn hex_decode(s: &str) -> Result<Vec<u8>, ()> {
    if !s.len().is_multiple_of(2) {
        return Err(());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).ok_or(())?, 16).map_err(|_| ()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn body() -> Vec<u8> {
        br#"{"id":"evt_1","type":"setup_intent.succeeded","created":1773158400,"data":{"object":{"id":"seti_1"}}}"#.to_vec()
    }

    fn at(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap()
    }

    #[test]
    fn a_signed_event_within_the_tolerance_is_read() {
        let t = 1_773_158_400;
        let header = sign(&body(), SECRET, t);
        let e = verify(&body(), Some(&header), SECRET, at(t + 300), 300).unwrap();
        assert_eq!(
            (e.id.as_str(), e.kind.as_str()),
            ("evt_1", "setup_intent.succeeded")
        );
        assert_eq!(e.data.object["id"], "seti_1");
        // One good v1 among others (a rolled secret) is enough.
        let two = format!(
            "t={t},v1={},{}",
            "ab".repeat(32),
            &header[header.find("v1").unwrap()..]
        );
        assert!(verify(&body(), Some(&two), SECRET, at(t), 300).is_ok());
    }

    #[test]
    fn forged_stale_and_malformed_signatures_are_refused() {
        let t = 1_773_158_400;
        let header = sign(&body(), SECRET, t);
        assert_eq!(
            verify(&body(), Some(&header), "whsec_other", at(t), 300).unwrap_err(),
            WebhookError::Mismatch
        );
        let mut tampered = body();
        tampered[10] = b'X';
        assert_eq!(
            verify(&tampered, Some(&header), SECRET, at(t), 300).unwrap_err(),
            WebhookError::Mismatch
        );
        assert_eq!(
            verify(&body(), Some(&header), SECRET, at(t + 301), 300).unwrap_err(),
            WebhookError::Stale
        );
        assert_eq!(
            verify(&body(), Some(&header), SECRET, at(t - 301), 300).unwrap_err(),
            WebhookError::Stale
        );
        for bad in [
            None,
            Some(""),
            Some("t=abc,v1=00"),
            Some("v1=00"),
            Some(&format!("t={t}")),
        ] {
            assert_eq!(
                verify(&body(), bad, SECRET, at(t), 300).unwrap_err(),
                WebhookError::Malformed,
                "{bad:?}"
            );
        }
        let not_json = b"nope".to_vec();
        let header = sign(&not_json, SECRET, t);
        assert!(matches!(
            verify(&not_json, Some(&header), SECRET, at(t), 300),
            Err(WebhookError::Body(_))
        ));
    }
}
