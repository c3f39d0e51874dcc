//! A thin client for Twilio's Messages API: send one SMS, ask whether an
//! earlier send was already accepted (crash recovery), and check the
//! signature Twilio puts on its webhooks.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use crate::config::SmsConfig;

/// Longest stretch of a non-JSON error body kept in an error message.
const BODY_EXCERPT: usize = 200;

/// Sends SMS through one Twilio account.
pub struct Twilio {
    http: reqwest::Client,
    base: String,
    account_sid: String,
    auth_token: String,
    from: String,
}

// By hand, so the auth token never reaches a log.
impl std::fmt::Debug for Twilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Twilio")
            .field("base", &self.base)
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// What Twilio said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    /// `SM…`: delivery receipts refer to it.
    pub sid: String,
    /// Usually `queued` or `accepted`.
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// No answer (connection, TLS, timeout): Twilio may or may not have the
    /// message.
    #[error("could not reach Twilio")]
    Transport(#[source] reqwest::Error),
    /// Twilio answered with an error; `code` is Twilio's own error code.
    #[error("Twilio refused the request (HTTP {status}{}): {message}", code_note(*.code))]
    Rejected {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// A success status with a body we cannot read.
    #[error("unexpected answer from Twilio: {0}")]
    BadResponse(String),
}

fn code_note(code: Option<i64>) -> String {
    code.map(|c| format!(", error {c}")).unwrap_or_default()
}

impl SmsError {
    /// Retrying cannot help: a 4xx other than 408/429 (bad number,
    /// unsubscribed recipient code 21610, bad credentials etc.).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Rejected { status, .. } => {
                (400..500).contains(status) && *status != 408 && *status != 429
            }
            // Transport failures and odd bodies leave the outcome unknown;
            // a retry first asks Twilio (`find_sent`), so it is safe.
            Self::Transport(_) | Self::BadResponse(_) => false,
        }
    }
}

/// Twilio's error body.
#[derive(Deserialize)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct MessageBody {
    sid: String,
    status: String,
}

#[derive(Deserialize)]
struct MessageList {
    messages: Vec<ListedMessage>,
}

#[derive(Deserialize)]
struct ListedMessage {
    sid: String,
    to: Option<String>,
    body: Option<String>,
}

/// A setting that is present and not blank (an empty environment variable
/// means unset).
fn setting(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Twilio {
    /// None unless account_sid, auth_token and from are all set (SMS is
    /// then off).
    pub fn from_config(cfg: &SmsConfig) -> Result<Option<Self>, SmsError> {
        let sid = setting(&cfg.account_sid);
        let token = setting(&cfg.auth_token);
        let from = setting(&cfg.from);
        let (Some(sid), Some(token), Some(from)) = (sid, token, from) else {
            if sid.is_some() || token.is_some() || from.is_some() {
                tracing::warn!("SMS is off: account_sid, auth_token and from must all be set");
            }
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            // Zero would fail every request at once.
            .timeout(Duration::from_secs(cfg.timeout_secs.max(1)))
            .build()
            .map_err(SmsError::Transport)?;
        Ok(Some(Self {
            http,
            base: cfg.twilio_base_url.trim_end_matches('/').to_owned(),
            account_sid: sid.to_owned(),
            auth_token: token.to_owned(),
            from: from.to_owned(),
        }))
    }

    fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base, self.account_sid
        )
    }

    /// POST {base}/2010-04-01/Accounts/{sid}/Messages.json with HTTP Basic
    /// auth (sid:token) and form fields To, Body, and From (or
    /// MessagingServiceSid when `from` starts with "MG"), plus
    /// StatusCallback when given.
    pub async fn send(
        &self,
        to: &str,
        body: &str,
        status_callback: Option<&str>,
    ) -> Result<SentSms, SmsError> {
        let sender = if self.from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let mut form = vec![("To", to), (sender, self.from.as_str()), ("Body", body)];
        if let Some(cb) = status_callback {
            form.push(("StatusCallback", cb));
        }
        let resp = self
            .http
            .post(self.messages_url())
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(SmsError::Transport)?;
        let text = success_body(resp).await?;
        let msg: MessageBody = serde_json::from_str(&text)
            .map_err(|e| SmsError::BadResponse(format!("message body: {e}")))?;
        Ok(SentSms {
            sid: msg.sid,
            status: msg.status,
        })
    }

    /// After a crash between "about to send" and "Twilio answered", asks
    /// Twilio whether it already accepted this exact text: lists messages to
    /// `to` sent on or after the day of `since` (the newest 50) and returns
    /// the sid of one whose `to` and `body` equal ours, if any.
    pub async fn find_sent(
        &self,
        to: &str,
        body: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, SmsError> {
        // Twilio filters by whole UTC days only.
        let day = since.format("%Y-%m-%d").to_string();
        let resp = self
            .http
            .get(self.messages_url())
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .query(&[("To", to), ("DateSent>", day.as_str()), ("PageSize", "50")])
            .send()
            .await
            .map_err(SmsError::Transport)?;
        let text = success_body(resp).await?;
        let list: MessageList = serde_json::from_str(&text)
            .map_err(|e| SmsError::BadResponse(format!("message list: {e}")))?;
        Ok(list
            .messages
            .into_iter()
            .find(|m| m.to.as_deref() == Some(to) && m.body.as_deref() == Some(body))
            .map(|m| m.sid))
    }
}

/// The body of a 2xx answer, or the error Twilio described.
async fn success_body(resp: reqwest::Response) -> Result<String, SmsError> {
    let status = resp.status();
    let text = resp.text().await.map_err(SmsError::Transport)?;
    if status.is_success() {
        return Ok(text);
    }
    let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(e) => (e.code, e.message.unwrap_or_default()),
        // Not Twilio's JSON (a proxy, an outage page): keep a little of it.
        Err(_) => (None, text.chars().take(BODY_EXCERPT).collect()),
    };
    Err(SmsError::Rejected {
        status: status.as_u16(),
        code,
        message,
    })
}

/// The MAC over Twilio's signed string: the URL, then each POST parameter's
/// name and value, sorted by name (then value, for repeated names) with
/// exact repeats once, as Twilio's own libraries do.
fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Option<Hmac<Sha1>> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    // HMAC takes a key of any length, so this never fails.
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(mac)
}

/// Twilio's request signature: base64(HMAC-SHA1(auth_token, url + concat of
/// each POST param name+value sorted by name)).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    mac(auth_token, url, params)
        .map(|m| BASE64.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Constant-time comparison of `header` (X-Twilio-Signature) with
/// signature(...).
pub fn verify_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: &str,
) -> bool {
    let Ok(given) = BASE64.decode(header.trim()) else {
        return false;
    };
    // `verify_slice` compares in constant time, so the header cannot be
    // guessed a byte at a time.
    mac(auth_token, url, params).is_some_and(|m| m.verify_slice(&given).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Twilio's published example (the RequestValidator tests in Twilio's
    // helper libraries, e.g. twilio-python tests/unit/test_request_validator.py).
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    fn params() -> Vec<(String, String)> {
        // Deliberately not in sorted order.
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    #[test]
    fn signature_matches_twilios_published_vector() {
        assert_eq!(signature(TOKEN, URL, &params()), EXPECTED);
        assert!(verify_signature(TOKEN, URL, &params(), EXPECTED));
    }

    #[test]
    fn repeated_parameters_are_sorted_by_value() {
        // Same source: twilio-python's `duplicate_expected`.
        let params: Vec<(String, String)> = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            signature(TOKEN, URL, &params),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn verify_rejects_a_changed_param_url_or_token() {
        let mut changed = params();
        changed[1].1 = "9999".into();
        assert!(!verify_signature(TOKEN, URL, &changed, EXPECTED));

        let mut extra = params();
        extra.push(("Body".into(), "hi".into()));
        assert!(!verify_signature(TOKEN, URL, &extra, EXPECTED));

        assert!(!verify_signature(
            TOKEN,
            &format!("{URL}&baz=3"),
            &params(),
            EXPECTED
        ));
        assert!(!verify_signature(
            TOKEN,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params(),
            EXPECTED
        ));
        assert!(!verify_signature("54321", URL, &params(), EXPECTED));
    }

    #[test]
    fn verify_rejects_malformed_headers() {
        for header in ["", "not base64!", "RSOYDt4T1cUTdK1PDd93/VVr8B8", "AAAA"] {
            assert!(
                !verify_signature(TOKEN, URL, &params(), header),
                "{header:?}"
            );
        }
    }

    fn config(sid: Option<&str>, token: Option<&str>, from: Option<&str>) -> SmsConfig {
        SmsConfig {
            account_sid: sid.map(str::to_owned),
            auth_token: token.map(str::to_owned),
            from: from.map(str::to_owned),
            ..SmsConfig::default()
        }
    }

    #[test]
    fn from_config_needs_sid_token_and_sender() {
        let on = Twilio::from_config(&config(Some("AC1"), Some("t"), Some("+15005550006")));
        assert!(on.unwrap().is_some());
        for cfg in [
            config(None, Some("t"), Some("+15005550006")),
            config(Some("AC1"), None, Some("+15005550006")),
            config(Some("AC1"), Some("t"), None),
            config(Some("AC1"), Some("t"), Some(" ")),
        ] {
            assert!(Twilio::from_config(&cfg).unwrap().is_none(), "{cfg:?}");
        }
    }

    #[test]
    fn debug_output_hides_the_auth_token() {
        let t = Twilio::from_config(&config(Some("AC1"), Some("sekrit"), Some("+1")))
            .unwrap()
            .unwrap();
        assert!(!format!("{t:?}").contains("sekrit"));
    }

    #[test]
    fn only_client_errors_other_than_timeout_and_rate_limit_are_permanent() {
        let rejected = |status| SmsError::Rejected {
            status,
            code: None,
            message: String::new(),
        };
        assert!(rejected(400).is_permanent());
        assert!(rejected(401).is_permanent());
        assert!(rejected(404).is_permanent());
        assert!(!rejected(408).is_permanent());
        assert!(!rejected(429).is_permanent());
        assert!(!rejected(500).is_permanent());
        assert!(!rejected(503).is_permanent());
        assert!(!SmsError::BadResponse("x".into()).is_permanent());
    }

    #[test]
    fn a_rejection_names_twilios_code() {
        let e = SmsError::Rejected {
            status: 400,
            code: Some(21610),
            message: "Attempt to send to unsubscribed recipient".into(),
        };
        assert_eq!(
            e.to_string(),
            "Twilio refused the request (HTTP 400, error 21610): \
             Attempt to send to unsubscribed recipient"
        );
    }
}
