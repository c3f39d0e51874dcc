//! The video handoff for live lessons: given a lesson's room key, who is
//! joining and when the room is open, what to send them in `video:ready`
//! (the provider, the room, a link, and for Jitsi with token
//! authentication a per-person token). Pure: no IO and no clock, every
//! instant comes from the caller's `RoomWindow`. The lesson room calls it
//! per person (`crate::lesson_port`). docs/lessons.md ("Video") describes
//! it.
//!
//! - `config`: the `[video]` section.
//! - `room`: the room name, an HMAC of the room key.
//! - `jitsi`: Jitsi's JWT claims and signing.

mod config;
pub mod jitsi;
mod room;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

pub use config::{VideoConfig, VideoProvider};
pub use room::{ROOM_PREFIX, room_name};

/// Why no handoff could be made: a misconfiguration or a caller's bug, never
/// something the joining person did, so callers log it and send no link.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The server secret rooms derive from is empty.
    #[error("no secret to derive video rooms from")]
    NoSecret,
    #[error("no room key given for the lesson")]
    NoRoomKey,
    #[error("video.base_url is not usable: {0}")]
    BadBaseUrl(&'static str),
    #[error("the room closes before it opens")]
    BadWindow,
    #[error("could not sign the video token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// The person joining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub user_id: String,
    /// Shown to the others in the meeting.
    pub name: String,
    /// The lesson's tutor: the only moderator.
    pub is_tutor: bool,
}

/// When the room admits people: `opens_at` becomes the token's `nbf` and
/// `closes_at` its `exp`. Build it with `RoomWindow::for_lesson` from the
/// lesson's times and the `[lessons]` timings, so the room closes when the
/// server would auto-end the lesson and not at a second, drifting margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomWindow {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

impl RoomWindow {
    /// Opens `room_opens` before `start` (`lessons.room_opens_min`) and
    /// closes `auto_end` after `end` (`lessons.auto_end_min`), so an
    /// overrunning lesson can still be rejoined after a dropped connection
    /// until the server ends it.
    pub fn for_lesson(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        room_opens: Duration,
        auto_end: Duration,
    ) -> Self {
        Self {
            opens_at: start - room_opens,
            closes_at: end + auto_end,
        }
    }
}

/// The `video:ready` payload.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct VideoHandoff {
    pub provider: VideoProvider,
    pub room: String,
    /// The link to open; with a token it carries it (`?jwt=`).
    pub url: String,
    /// For a client that embeds the meeting rather than opening `url`.
    pub token: Option<String>,
    /// When the token stops admitting people (without a token, when the
    /// room's window closes): `RoomWindow::closes_at`.
    pub expires_at: DateTime<Utc>,
}

/// The token (and so the link that carries it) is a bearer credential for
/// the room: Debug shows neither.
impl std::fmt::Debug for VideoHandoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match &self.token {
            Some(_) => "<redacted>",
            None => self.url.as_str(),
        };
        f.debug_struct("VideoHandoff")
            .field("provider", &self.provider)
            .field("room", &self.room)
            .field("url", &url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What to hand `person` for the lesson whose room key is `room_key`.
///
/// `secret` is the server's token secret (rooms derive from it, see
/// `room`); `room_key` is the original lesson's id or a stored room seed,
/// carried across reschedules. Provider `none`: `Ok(None)`. Jitsi without
/// an app id and secret: the plain room link and no token (public Jitsi,
/// or a deployment without token authentication).
pub fn handoff(
    cfg: &VideoConfig,
    secret: &[u8],
    room_key: &str,
    person: &Participant,
    window: RoomWindow,
) -> Result<Option<VideoHandoff>, VideoError> {
    match cfg.provider {
        VideoProvider::None => Ok(None),
        VideoProvider::Jitsi => jitsi_handoff(cfg, secret, room_key, person, window).map(Some),
    }
}

fn jitsi_handoff(
    cfg: &VideoConfig,
    secret: &[u8],
    room_key: &str,
    person: &Participant,
    window: RoomWindow,
) -> Result<VideoHandoff, VideoError> {
    if window.closes_at <= window.opens_at {
        return Err(VideoError::BadWindow);
    }
    let (root, domain) = meeting_root(&cfg.base_url)?;
    let room = room_name(secret, room_key)?;
    let expires_at = window.closes_at;
    let token = match cfg.credentials() {
        Some((app_id, app_secret)) => Some(jitsi::token(
            app_secret,
            &jitsi::TokenFor {
                app_id,
                domain: &domain,
                room: &room,
                person,
                not_before: window.opens_at,
                expires: expires_at,
            },
        )?),
        None => None,
    };
    // A JWT is base64url and dots: nothing in it needs escaping.
    let url = match &token {
        Some(t) => format!("{root}/{room}?jwt={t}"),
        None => format!("{root}/{room}"),
    };
    Ok(VideoHandoff {
        provider: VideoProvider::Jitsi,
        room,
        url,
        token,
        expires_at,
    })
}

/// `base_url` without a trailing slash, and its host (the meeting domain).
/// Refuses what would make a broken or leaky link: no http(s), no host,
/// a query or fragment (the room would land inside it), or credentials.
fn meeting_root(base_url: &str) -> Result<(String, String), VideoError> {
    let parsed = reqwest::Url::parse(base_url).map_err(|_| VideoError::BadBaseUrl("not a URL"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(VideoError::BadBaseUrl("not http(s)"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(VideoError::BadBaseUrl("has a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(VideoError::BadBaseUrl("has credentials"));
    }
    let domain = parsed
        .host_str()
        .ok_or(VideoError::BadBaseUrl("has no host"))?
        .to_owned();
    Ok((base_url.trim_end_matches('/').to_owned(), domain))
}

#[cfg(test)]
mod tests;
