//! The optional malware scan: clamd's INSTREAM command over TCP. A file
//! waits in quarantine until clamd has said it is clean; a scanner that is
//! down or answers with an error leaves it there to be tried again, never
//! served.

use std::time::Duration;

/// What clamd said about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The signature's name, as clamd reported it.
    Infected(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("the scanner could not be reached: {0}")]
    Unreachable(#[from] std::io::Error),
    #[error("the scanner did not answer in time")]
    Timeout,
    /// clamd answered, but not with a verdict (e.g. "INSTREAM size limit
    /// exceeded. ERROR").
    #[error("the scanner answered with an error: {0}")]
    Answer(String),
}

/// A clamd at `host:port`.
#[derive(Debug, Clone)]
pub struct Clamd {
    address: String,
    timeout: Duration,
}

impl Clamd {
    pub fn new(address: impl Into<String>, timeout: Duration) -> Self {
        Self {
            address: address.into(),
            timeout,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Streams `bytes` to clamd and reads its verdict.
    pub async fn scan(&self, bytes: &[u8]) -> Result<Verdict, ScanError> {
        let tcp = clamav_client::tokio::Tcp {
            host_address: self.address.as_str(),
        };
        let answer = tokio::time::timeout(
            self.timeout,
            clamav_client::tokio::scan_buffer(bytes, tcp, None),
        )
        .await
        .map_err(|_| ScanError::Timeout)??;
        verdict(&answer)
    }
}

/// Reads clamd's answer: `stream: OK`, `stream: <name> FOUND`, or an error.
/// (The client crate's own `clean` would call an error "not clean", which
/// here would reject a good file for the scanner's fault.)
fn verdict(answer: &[u8]) -> Result<Verdict, ScanError> {
    let text = String::from_utf8_lossy(answer);
    let text = text.trim_end_matches(['\0', '\n', '\r']).trim();
    let body = text.split_once(": ").map_or(text, |(_, rest)| rest);
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(name) = body.strip_suffix(" FOUND") {
        Ok(Verdict::Infected(name.trim().to_owned()))
    } else {
        Err(ScanError::Answer(text.chars().take(200).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_answers_are_read_exactly() {
        assert_eq!(verdict(b"stream: OK\0").ok(), Some(Verdict::Clean));
        assert_eq!(
            verdict(b"stream: Cms.Test.Marker.UNOFFICIAL FOUND\0").ok(),
            Some(Verdict::Infected("Cms.Test.Marker.UNOFFICIAL".into()))
        );
        assert!(matches!(
            verdict(b"INSTREAM size limit exceeded. ERROR\0"),
            Err(ScanError::Answer(_))
        ));
        assert!(matches!(verdict(b""), Err(ScanError::Answer(_))));
    }
}
