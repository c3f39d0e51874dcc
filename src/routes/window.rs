//! `from`/`to` query parameters shared by calendar and slot queries: RFC
//! 3339 instants or plain dates (midnight UTC).

use chrono::{DateTime, Duration, Utc};

use crate::routes::error::ApiError;
use crate::state::AppState;
use cms_domain::scheduling::time;

pub(crate) fn instant(name: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    time::parse_date(s)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| ApiError::Invalid(format!("{name} must be RFC 3339 or YYYY-MM-DD")))
}

/// The window `[from, to)`: `from` defaults to now, `to` to
/// `default_days` later; at most `scheduling.max_query_days` long.
pub fn window(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
    default_days: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let (now, max_days) = (state.clock.now(), state.scheduling.max_query_days);
    let from = from.map(|s| instant("from", s)).transpose()?.unwrap_or(now);
    let to = to
        .map(|s| instant("to", s))
        .transpose()?
        .unwrap_or(from + Duration::days(default_days));
    if to <= from {
        return Err(ApiError::Invalid("to must be after from".into()));
    }
    if to - from > Duration::days(i64::from(max_days)) {
        return Err(ApiError::Invalid(format!(
            "a window is at most {max_days} days"
        )));
    }
    Ok((from, to))
}
