//! Client errors.

use tokio_tungstenite::tungstenite;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The upgrade was answered with this HTTP status instead of 101.
    #[error("upgrade refused with HTTP {0}")]
    Http(u16),
    #[error("websocket error")]
    WebSocket(#[source] Box<tungstenite::Error>),
    #[error("the socket is closed")]
    Closed,
    /// Closed while a reply was awaited: the server's close code and
    /// reason, or code 0 and the read error.
    #[error("the socket closed ({code} {reason})")]
    ClosedWith { code: u16, reason: String },
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("not joined to {0}")]
    NotJoined(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("could not connect")]
    Io(#[source] std::io::Error),
    #[error("bad reply payload")]
    BadReply(#[source] serde_json::Error),
}

impl From<tungstenite::Error> for ClientError {
    fn from(e: tungstenite::Error) -> Self {
        match e {
            tungstenite::Error::Http(resp) => Self::Http(resp.status().as_u16()),
            other => Self::WebSocket(Box::new(other)),
        }
    }
}
