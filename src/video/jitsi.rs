//! Jitsi Meet's side of the handoff: the per-person JWT that Jitsi's token
//! authentication (prosody's `mod_auth_token`; the `token_affiliation`
//! plugin makes a `context.user.moderator: true` user the room's owner)
//! accepts, and the link that carries it.
//!
//! The token is HS256 under the deployment's `app_secret`. Prosody checks
//! `iss` against its `app_id`, `aud` against its accepted audiences
//! (`jitsi` is the conventional one), `sub` against the meeting domain,
//! `room` against the room being joined, and `nbf`/`exp` against its own
//! clock when someone joins, so a leaked link opens one room and only
//! around the lesson.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::{Participant, VideoError};

/// The audience Jitsi deployments accept by default.
pub const AUDIENCE: &str = "jitsi";

/// The claims, named and nested exactly as Jitsi reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JitsiClaims {
    /// The app id configured in prosody (`app_id`).
    pub iss: String,
    pub aud: String,
    /// The meeting domain: the host of `video.base_url`.
    pub sub: String,
    /// The bare room name (not the MUC address).
    pub room: String,
    /// Unix seconds: no joining before the room opens.
    pub nbf: i64,
    /// Unix seconds: no joining (or rejoining) after the lesson's end plus
    /// the auto-end margin (`RoomWindow::closes_at`).
    pub exp: i64,
    pub context: JitsiContext,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JitsiContext {
    pub user: JitsiUser,
}

/// Only what the meeting shows or needs: no email, no avatar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JitsiUser {
    pub id: String,
    pub name: String,
    /// True for the tutor alone: the tutor can mute, remove and end; a
    /// parent or child cannot.
    pub moderator: bool,
}

/// What one token is for: who, where, and between which instants.
pub(crate) struct TokenFor<'a> {
    pub app_id: &'a str,
    pub domain: &'a str,
    pub room: &'a str,
    pub person: &'a Participant,
    pub not_before: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// Signs the token for one person.
pub(crate) fn token(app_secret: &str, t: &TokenFor<'_>) -> Result<String, VideoError> {
    let claims = JitsiClaims {
        iss: t.app_id.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: t.domain.to_owned(),
        room: t.room.to_owned(),
        nbf: t.not_before.timestamp(),
        exp: t.expires.timestamp(),
        context: JitsiContext {
            user: JitsiUser {
                id: t.person.user_id.clone(),
                name: t.person.name.clone(),
                moderator: t.person.is_tutor,
            },
        },
    };
    let key = EncodingKey::from_secret(app_secret.as_bytes());
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &key,
    )?)
}
