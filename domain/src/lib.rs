//! The CMS platform's vocabulary and pure rules, free of IO: no actors, no
//! database, no sockets. Everything here is a value or a function of values,
//! so every layer above (store, actors, use cases, routes) can share it and
//! its tests need nothing running.
//!
//! - [`ids`]: typed record ids, validated where they enter.
//! - [`Role`], [`Clock`]: who someone is, and what time it is.
//! - [`lesson`], [`notify`], [`tutor`]: statuses and kinds as enums.
//! - [`lifecycle`]: who may open, start and end a lesson, and when;
//!   [`timers`]: what the server does to a lesson as its deadlines pass.
//! - [`Refusal`]: why the store turned a change down, typed.
//! - [`scheduling`]: the time model, recurrence, availability and the
//!   cancellation policy.
//! - [`files`]: what an upload may be, and its name made safe;
//!   [`documents`]: a tutor's DBS and qualifications, and when a DBS
//!   lets them take bookings; [`homework`]: hand-ins and the progress
//!   figures read from them.
//! - [`charge`]: what a family is charged for a lesson, and its entry;
//!   [`ledger`]: the double-entry ledger's accounts, entries and checks;
//!   [`money`]: the platform's share and the tutor's, the sibling
//!   discount by UK week, and how they round, in integer pence.
//! - [`package`]: bundles of lessons bought ahead, their units' worth
//!   and the entries they make.
//! - [`rating`]: a lesson's stars and comment, a tutor's average.
//! - [`text`]: what a one-line field (a name) may hold.
//! - [`whole_number`]: integer fields that also take `15.0`, as JSON
//!   Schema's integers do.

pub mod caller;
pub mod charge;
pub mod clock;
pub mod documents;
pub mod files;
pub mod homework;
pub mod ids;
pub mod ledger;
pub mod lesson;
pub mod lifecycle;
pub mod money;
pub mod notify;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod package;
pub mod rating;
pub mod refusal;
pub mod role;
pub mod scheduling;
pub mod text;
pub mod timers;
pub mod tutor;
mod vocab;
pub mod whole_number;

pub use caller::Caller;
pub use clock::{Clock, Sleep};
pub use refusal::Refusal;
pub use role::Role;
