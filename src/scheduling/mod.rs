//! Scheduling rules that need no database: the time model, recurrence,
//! availability and free slots, the cancellation policy, the iCalendar feed.
//! docs/scheduling.md explains them for people.

pub mod availability;
pub mod ical;
pub mod policy;
pub mod recurrence;
pub mod time;
