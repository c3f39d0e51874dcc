//! The handoff end to end: tokens decoded with the app secret and every
//! claim checked, rooms compared across people, reconnects and a
//! reschedule, the link's form, and what is shown without a secret or a
//! provider. Fixed instants throughout.

use chrono::{DateTime, Duration, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::jitsi::JitsiClaims;
use super::*;

const SERVER_SECRET: &[u8] = b"server-token-secret";
const APP_SECRET: &str = "jitsi-app-secret-do-not-leak";

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
}

/// A 16:00–17:00 lesson under the default `[lessons]` timings: the room
/// opens 10 minutes before and the lesson auto-ends 30 minutes after.
fn lesson(start: DateTime<Utc>, end: DateTime<Utc>) -> RoomWindow {
    RoomWindow::for_lesson(start, end, Duration::minutes(10), Duration::minutes(30))
}

fn window() -> RoomWindow {
    lesson(at(16, 0), at(17, 0))
}

fn jitsi() -> VideoConfig {
    VideoConfig {
        provider: VideoProvider::Jitsi,
        base_url: "https://meet.example.org/".into(),
        app_id: Some("cms-education".into()),
        app_secret: Some(APP_SECRET.into()),
    }
}

fn tutor() -> Participant {
    Participant {
        user_id: "user:tutor1".into(),
        name: "Ms Tutor".into(),
        is_tutor: true,
    }
}

fn parent() -> Participant {
    Participant {
        user_id: "user:parent1".into(),
        name: "Mr Parent".into(),
        is_tutor: false,
    }
}

fn give(cfg: &VideoConfig, key: &str, who: &Participant, w: RoomWindow) -> VideoHandoff {
    handoff(cfg, SERVER_SECRET, key, who, w).unwrap().unwrap()
}

/// Decodes with the app secret, checking the signature, `iss` and `aud`
/// as prosody would. Time checks are off here: the instants are fixed and
/// compared exactly below, not against the machine's clock.
fn decode(token: &str) -> JitsiClaims {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["jitsi"]);
    v.set_issuer(&["cms-education"]);
    v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    v.validate_exp = false;
    v.validate_nbf = false;
    jsonwebtoken::decode::<JitsiClaims>(token, &DecodingKey::from_secret(APP_SECRET.as_bytes()), &v)
        .unwrap()
        .claims
}

#[test]
fn tutor_token_carries_every_claim() {
    let h = give(&jitsi(), "lesson:orig", &tutor(), window());
    let c = decode(h.token.as_deref().unwrap());
    assert_eq!(c.iss, "cms-education");
    assert_eq!(c.aud, "jitsi");
    assert_eq!(c.sub, "meet.example.org");
    assert_eq!(c.room, h.room);
    assert_eq!(c.nbf, at(15, 50).timestamp());
    assert_eq!(
        c.exp,
        at(17, 30).timestamp(),
        "the end plus the auto-end margin"
    );
    assert_eq!(c.context.user.id, "user:tutor1");
    assert_eq!(c.context.user.name, "Ms Tutor");
    assert!(c.context.user.moderator);
    assert_eq!(h.expires_at, at(17, 30));
    assert_eq!(h.provider, VideoProvider::Jitsi);
}

#[test]
fn nbf_and_exp_are_the_window_as_given() {
    let w = RoomWindow {
        opens_at: at(9, 1),
        closes_at: at(10, 2),
    };
    let h = give(&jitsi(), "lesson:orig", &parent(), w);
    let c = decode(h.token.as_deref().unwrap());
    assert_eq!(c.nbf, at(9, 1).timestamp());
    assert_eq!(c.exp, at(10, 2).timestamp());
    assert_eq!(h.expires_at, at(10, 2));
}

#[test]
fn token_header_is_hs256_jwt() {
    let h = give(&jitsi(), "lesson:orig", &tutor(), window());
    let header = jsonwebtoken::decode_header(h.token.as_deref().unwrap()).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
}

#[test]
fn a_wrong_secret_does_not_verify() {
    let h = give(&jitsi(), "lesson:orig", &tutor(), window());
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["jitsi"]);
    v.validate_exp = false;
    let r = jsonwebtoken::decode::<JitsiClaims>(
        h.token.as_deref().unwrap(),
        &DecodingKey::from_secret(b"not-the-app-secret"),
        &v,
    );
    assert!(r.is_err());
}

#[test]
fn only_the_tutor_moderates() {
    let t = give(&jitsi(), "lesson:orig", &tutor(), window());
    let p = give(&jitsi(), "lesson:orig", &parent(), window());
    let pc = decode(p.token.as_deref().unwrap());
    assert!(decode(t.token.as_deref().unwrap()).context.user.moderator);
    assert!(!pc.context.user.moderator);
    assert_eq!(pc.context.user.id, "user:parent1");
    assert_eq!(pc.context.user.name, "Mr Parent");
    assert_ne!(t.token, p.token, "tokens are per person");
}

#[test]
fn tutor_and_parent_share_the_room_and_reconnects_keep_it() {
    let t = give(&jitsi(), "lesson:orig", &tutor(), window());
    let p = give(&jitsi(), "lesson:orig", &parent(), window());
    let again = give(&jitsi(), "lesson:orig", &parent(), window());
    assert_eq!(t.room, p.room);
    assert_eq!(p.room, again.room);
    assert_eq!(decode(t.token.as_deref().unwrap()).room, p.room);
    assert_eq!(decode(p.token.as_deref().unwrap()).room, p.room);
}

#[test]
fn a_rescheduled_lesson_keeps_its_room() {
    // The moved lesson has a new id and new times, but its caller passes
    // the original lesson's id as the room key.
    let before = give(&jitsi(), "lesson:orig", &parent(), window());
    let moved = lesson(at(19, 0), at(20, 0));
    let after = give(&jitsi(), "lesson:orig", &parent(), moved);
    assert_eq!(before.room, after.room);
    let c = decode(after.token.as_deref().unwrap());
    assert_eq!(c.room, before.room);
    assert_eq!(c.nbf, at(18, 50).timestamp(), "times follow the move");
    assert_eq!(c.exp, at(20, 30).timestamp());
}

#[test]
fn another_lesson_gets_another_room() {
    let a = give(&jitsi(), "lesson:orig", &parent(), window());
    let b = give(&jitsi(), "lesson:other", &parent(), window());
    assert_ne!(a.room, b.room);
    assert!(a.room.starts_with(ROOM_PREFIX));
    assert!(!a.room.contains("orig"), "the room does not reveal its key");
}

#[test]
fn the_url_is_base_room_and_token() {
    let h = give(&jitsi(), "lesson:orig", &parent(), window());
    let token = h.token.clone().unwrap();
    assert_eq!(
        h.url,
        format!("https://meet.example.org/{}?jwt={token}", h.room),
        "one slash between base and room, whatever base_url ends with"
    );
}

#[test]
fn without_credentials_the_plain_room_url_and_no_token() {
    for cfg in [
        VideoConfig {
            app_secret: None,
            ..jitsi()
        },
        VideoConfig {
            app_id: None,
            ..jitsi()
        },
        VideoConfig {
            provider: VideoProvider::Jitsi,
            ..VideoConfig::default()
        },
    ] {
        let h = give(&cfg, "lesson:orig", &tutor(), window());
        assert_eq!(h.token, None);
        assert!(!h.url.contains("jwt"), "{}", h.url);
        assert!(h.url.ends_with(&format!("/{}", h.room)), "{}", h.url);
        assert_eq!(h.expires_at, at(17, 30));
    }
    let public = give(
        &VideoConfig {
            provider: VideoProvider::Jitsi,
            ..VideoConfig::default()
        },
        "lesson:orig",
        &tutor(),
        window(),
    );
    assert_eq!(public.url, format!("https://meet.jit.si/{}", public.room));
    assert_eq!(
        public.room,
        give(&jitsi(), "lesson:orig", &tutor(), window()).room,
        "the room does not depend on tokens being on"
    );
}

#[test]
fn provider_none_hands_off_nothing() {
    let cfg = VideoConfig {
        provider: VideoProvider::None,
        ..jitsi()
    };
    let h = handoff(&cfg, SERVER_SECRET, "lesson:orig", &tutor(), window()).unwrap();
    assert!(h.is_none());
    let h = handoff(
        &VideoConfig::default(),
        SERVER_SECRET,
        "lesson:orig",
        &tutor(),
        window(),
    )
    .unwrap();
    assert!(h.is_none(), "off by default");
}

#[test]
fn secrets_stay_out_of_debug() {
    let cfg = jitsi();
    let h = give(&cfg, "lesson:orig", &tutor(), window());
    let token = h.token.clone().unwrap();
    for shown in [format!("{cfg:?}"), format!("{h:?}")] {
        assert!(!shown.contains(APP_SECRET), "{shown}");
        assert!(!shown.contains(&token), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
    // A tokenless link is no credential and stays readable.
    let plain = give(
        &VideoConfig {
            app_secret: None,
            ..jitsi()
        },
        "lesson:orig",
        &tutor(),
        window(),
    );
    assert!(format!("{plain:?}").contains(&plain.url));
}

#[test]
fn serialises_as_the_video_ready_payload() {
    let h = give(&jitsi(), "lesson:orig", &tutor(), window());
    let v = serde_json::to_value(&h).unwrap();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["expires_at", "provider", "room", "token", "url"]);
    assert_eq!(v["provider"], "jitsi");
    assert_eq!(v["room"], h.room.as_str());
    assert_eq!(v["token"], h.token.as_deref().unwrap());
    assert_eq!(v["expires_at"], "2026-03-02T17:30:00Z");

    let plain = give(
        &VideoConfig {
            app_secret: None,
            ..jitsi()
        },
        "lesson:orig",
        &tutor(),
        window(),
    );
    assert!(serde_json::to_value(&plain).unwrap()["token"].is_null());
}

#[test]
fn bad_inputs_are_typed_errors() {
    let cfg = jitsi();
    let backwards = RoomWindow {
        opens_at: at(17, 0),
        closes_at: at(16, 0),
    };
    assert!(matches!(
        handoff(&cfg, SERVER_SECRET, "k", &tutor(), backwards),
        Err(VideoError::BadWindow)
    ));
    assert!(matches!(
        handoff(&cfg, b"", "k", &tutor(), window()),
        Err(VideoError::NoSecret)
    ));
    assert!(matches!(
        handoff(&cfg, SERVER_SECRET, "", &tutor(), window()),
        Err(VideoError::NoRoomKey)
    ));
    for base_url in [
        "meet.example.org",
        "ftp://meet.example.org",
        "https://meet.example.org/?x=1",
        "https://user:pw@meet.example.org",
    ] {
        let cfg = VideoConfig {
            base_url: base_url.into(),
            ..jitsi()
        };
        assert!(
            matches!(
                handoff(&cfg, SERVER_SECRET, "k", &tutor(), window()),
                Err(VideoError::BadBaseUrl(_))
            ),
            "{base_url}"
        );
    }
}
