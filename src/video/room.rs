//! A lesson's room name: an HMAC-SHA256 of the lesson's room key under the
//! server's secret, so it is stable (same key, same room: every reconnect,
//! every participant) and unguessable (no one without the secret can
//! compute it from a lesson id).
//!
//! The key, not the lesson id, names the room because a rescheduled lesson
//! gets a new lesson id but must keep its room (families bookmark links,
//! tutors share them). Whoever stores rooms must carry the key across a
//! reschedule: the moved lesson keeps the original lesson's id (or a stored
//! room seed) as its key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::VideoError;

/// Every room name starts with this, so rooms are recognisable in the
/// provider's logs and cannot collide with rooms made by hand.
pub const ROOM_PREFIX: &str = "cms-";

/// Mixed into the MAC ahead of the key: the secret also signs login
/// tokens, and this label keeps a room name from ever equalling a MAC the
/// server computes for any other purpose over the same bytes.
const LABEL: &[u8] = b"cms-video-room\0";

/// Bytes of the MAC kept: 128 bits is beyond guessing and keeps the link
/// short (32 hex characters). Hex, lower case, because Jitsi lowercases
/// room names and compares the token's `room` claim with the lowercased
/// name.
const KEPT_BYTES: usize = 16;

/// `cms-` and 32 lowercase hex characters derived from `room_key` under
/// `secret`. An empty secret or key is refused: either would make the
/// room guessable or shared by every lesson.
pub fn room_name(secret: &[u8], room_key: &str) -> Result<String, VideoError> {
    if secret.is_empty() {
        return Err(VideoError::NoSecret);
    }
    if room_key.is_empty() {
        return Err(VideoError::NoRoomKey);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| VideoError::NoSecret)?;
    mac.update(LABEL);
    mac.update(room_key.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut name = String::with_capacity(ROOM_PREFIX.len() + 2 * KEPT_BYTES);
    name.push_str(ROOM_PREFIX);
    for b in digest.iter().take(KEPT_BYTES) {
        name.push(hex_digit(b >> 4));
        name.push(hex_digit(b & 0x0f));
    }
    Ok(name)
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_room_other_key_other_room() {
        let a = room_name(b"secret", "lesson:abc").unwrap();
        assert_eq!(a, room_name(b"secret", "lesson:abc").unwrap());
        assert_ne!(a, room_name(b"secret", "lesson:abd").unwrap());
    }

    #[test]
    fn the_secret_changes_the_room() {
        assert_ne!(
            room_name(b"secret", "lesson:abc").unwrap(),
            room_name(b"other", "lesson:abc").unwrap()
        );
    }

    #[test]
    fn shape_is_prefix_and_lowercase_hex() {
        let r = room_name(b"secret", "lesson:abc").unwrap();
        let hex = r.strip_prefix(ROOM_PREFIX).unwrap();
        assert_eq!(hex.len(), 32);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert!(!r.contains("abc"), "the key does not show through: {r}");
    }

    #[test]
    fn matches_an_independent_hmac() {
        // HMAC-SHA256(key = "secret", "cms-video-room\0lesson:abc"),
        // computed here the long way (RFC 2104) from plain SHA-256, so a
        // change to the derivation (label, truncation, encoding) shows.
        use sha2::Digest;
        let key = b"secret";
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&ipad)
            .chain_update(b"cms-video-room\0lesson:abc")
            .finalize();
        let outer = Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize();
        let expect: String = outer[..16].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            room_name(b"secret", "lesson:abc").unwrap(),
            format!("cms-{expect}")
        );
    }

    #[test]
    fn empty_secret_or_key_is_refused() {
        assert!(matches!(room_name(b"", "k"), Err(VideoError::NoSecret)));
        assert!(matches!(room_name(b"s", ""), Err(VideoError::NoRoomKey)));
    }
}
