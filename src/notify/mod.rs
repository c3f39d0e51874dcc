//! Notifications: lesson reminders and booking notices by email, SMS and
//! in-app, sent exactly once in effect from jobs kept in the store.

pub mod deliver;
pub mod email;
pub mod jobs;
pub mod phone;
pub mod prefs;
pub mod scheduler;
pub mod sms;
pub mod text;

pub use scheduler::NotifyHandle;
