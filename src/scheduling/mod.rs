//! The iCalendar feed's rendering. The other scheduling rules (time model,
//! recurrence, availability, the cancellation policy) are pure and live in
//! `cms_domain::scheduling`; this one stays here, next to the feed and
//! the notices that send it. docs/scheduling.md explains them for people.

pub mod ical;
