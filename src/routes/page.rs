//! Cursor pagination, one way for every list that can grow (see
//! docs/rest.md): `?limit=` (1 to 100, 50 when absent) and `?cursor=`
//! (opaque, from the previous page). The body stays a JSON array; when
//! another page follows, a `Link: <…>; rel="next"` header (RFC 8288)
//! carries the URL that fetches it. A cursor marks a place, not an offset,
//! so rows added meanwhile neither repeat nor vanish between pages.

use actix_web::HttpResponseBuilder;
use actix_web::http::header::LINK;
use chrono::{DateTime, Utc};

use crate::routes::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

/// The page size asked for, checked.
pub fn limit(asked: Option<u32>) -> Result<usize, ApiError> {
    match asked.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n as usize),
        _ => Err(ApiError::Invalid(format!("limit must be 1 to {MAX_LIMIT}"))),
    }
}

/// A cursor is `<microseconds since the epoch>.<id>`: a list ordered by an
/// instant then id resumes after that pair. Clients treat it as opaque.
pub fn encode(at: DateTime<Utc>, id: &str) -> String {
    format!("{}.{id}", at.timestamp_micros())
}

pub fn decode<Id: std::str::FromStr>(cursor: &str) -> Result<(DateTime<Utc>, Id), ApiError> {
    let bad = || ApiError::Invalid("cursor is not one this server gave out".into());
    let (micros, id) = cursor.split_once('.').ok_or_else(bad)?;
    // Exactly what the documented pattern allows (see the routes' `cursor`
    // parameter): 1 to 16 digits, a dot, an id of at most 64 characters.
    if micros.is_empty()
        || micros.len() > 16
        || !micros.bytes().all(|b| b.is_ascii_digit())
        || id.len() > 64
    {
        return Err(bad());
    }
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// Adds the `Link` header naming the next page of `path`.
pub fn link_next(res: &mut HttpResponseBuilder, path: &str, limit: usize, cursor: &str) {
    res.insert_header((
        LINK,
        format!("<{path}?limit={limit}&cursor={cursor}>; rel=\"next\""),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use cms_domain::ids::ConversationId;

    #[test]
    fn a_cursor_round_trips_and_a_forged_one_is_refused() {
        let at = DateTime::from_timestamp_micros(1_803_891_600_123_456).unwrap();
        let (back, id) = decode::<ConversationId>(&encode(at, "01abc")).unwrap();
        assert_eq!((back, id.as_str()), (at, "01abc"));
        for bad in [
            "-1.a",
            "12345678901234567.a",
            &format!("1.{}", "a".repeat(65)),
            "",
            "x",
            "12",
            "12.",
            "x.01abc",
            "12.a:b",
            "99999999999999999999.a",
        ] {
            assert!(decode::<ConversationId>(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits_are_one_to_a_hundred() {
        assert_eq!(limit(None).unwrap(), 50);
        assert_eq!(limit(Some(100)).unwrap(), 100);
        assert!(limit(Some(0)).is_err() && limit(Some(101)).is_err());
    }
}
