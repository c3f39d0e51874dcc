//! Scheduling rules that need no database: the time model, recurrence,
//! availability and free slots, the cancellation policy. docs/scheduling.md
//! explains them for people. (The iCalendar feed's rendering lives in the
//! server, `src/scheduling/ical.rs`, next to the feed and the notices.)

pub mod availability;
pub mod policy;
pub mod recurrence;
pub mod time;
