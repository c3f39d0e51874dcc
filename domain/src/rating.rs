//! Ratings: after a completed lesson a parent rates it once for their
//! family, 1–5 stars with an optional comment. A tutor's average is the
//! mean of every rating they have had, shown to one decimal; ratings of
//! [`LOW_STARS`] or fewer raise an admin alert.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The highest number of stars that raises an admin alert.
pub const LOW_STARS: u8 = 2;
/// The longest comment, in characters.
pub const MAX_COMMENT: usize = 1000;

/// One to five stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Stars(u8);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RatingError {
    #[error("stars must be a whole number from 1 to 5")]
    Stars,
    #[error("a comment is at most {MAX_COMMENT} characters")]
    CommentTooLong,
}

impl Stars {
    pub fn new(n: i64) -> Result<Self, RatingError> {
        match u8::try_from(n) {
            Ok(s @ 1..=5) => Ok(Self(s)),
            _ => Err(RatingError::Stars),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// Low enough for an admin to look at.
    pub fn is_low(self) -> bool {
        self.0 <= LOW_STARS
    }
}

impl<'de> Deserialize<'de> for Stars {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n: i64 = crate::whole_number::int(d)?;
        Self::new(n).map_err(serde::de::Error::custom)
    }
}

/// A comment as kept: trimmed, `None` when nothing is left.
pub fn comment(given: Option<&str>) -> Result<Option<String>, RatingError> {
    match given.map(str::trim) {
        None | Some("") => Ok(None),
        Some(c) if c.chars().count() > MAX_COMMENT => Err(RatingError::CommentTooLong),
        Some(c) => Ok(Some(c.to_owned())),
    }
}

/// A tutor's totals as stored: how many ratings, and their stars added up.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct RatingTotals {
    pub count: u32,
    pub sum: u32,
}

/// A tutor's ratings summed up: how many, and their mean to one decimal
/// (half away from zero: 4.25 shows as 4.3). No ratings, no average.
/// Read from [`RatingTotals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RatingTotals")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RatingSummary {
    pub count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
}

impl RatingSummary {
    /// From the stored count and sum of stars.
    pub fn new(count: u32, sum: u32) -> Self {
        let average = (count > 0).then(|| {
            // Tenths in integers first, so 4.25 rounds up rather than to
            // whatever the nearest binary float does.
            let (sum, count) = (u64::from(sum), u64::from(count));
            let tenths = (sum * 20 + count) / (2 * count);
            #[allow(clippy::cast_precision_loss)]
            let shown = tenths as f64 / 10.0;
            shown
        });
        Self { count, average }
    }
}

impl From<RatingTotals> for RatingSummary {
    fn from(t: RatingTotals) -> Self {
        Self::new(t.count, t.sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_run_from_one_to_five() {
        assert!(Stars::new(0).is_err() && Stars::new(6).is_err() && Stars::new(-1).is_err());
        assert_eq!(Stars::new(5).unwrap().get(), 5);
        assert!(Stars::new(2).unwrap().is_low() && !Stars::new(3).unwrap().is_low());
        let parsed: Stars = serde_json::from_str("4.0").unwrap();
        assert_eq!(parsed.get(), 4, "a whole number written as a float");
        assert!(serde_json::from_str::<Stars>("4.5").is_err());
        assert!(serde_json::from_str::<Stars>("7").is_err());
    }

    #[test]
    fn comments_are_trimmed_and_bounded() {
        assert_eq!(comment(Some("  ")), Ok(None));
        assert_eq!(comment(Some(" Great ")), Ok(Some("Great".into())));
        let long = "é".repeat(MAX_COMMENT + 1);
        assert_eq!(comment(Some(&long)), Err(RatingError::CommentTooLong));
        assert!(comment(Some(&"é".repeat(MAX_COMMENT))).is_ok());
    }

    #[test]
    fn the_average_shows_one_decimal_rounding_half_up() {
        assert_eq!(RatingSummary::new(0, 0).average, None);
        assert_eq!(RatingSummary::new(2, 9).average, Some(4.5));
        // 17 / 4 = 4.25 → 4.3; 13 / 3 = 4.333 → 4.3; 14 / 3 = 4.667 → 4.7.
        assert_eq!(RatingSummary::new(4, 17).average, Some(4.3));
        assert_eq!(RatingSummary::new(3, 13).average, Some(4.3));
        assert_eq!(RatingSummary::new(3, 14).average, Some(4.7));
        assert_eq!(RatingSummary::new(1, 1).average, Some(1.0));
    }
}
