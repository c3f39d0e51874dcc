//! The integration suite, one test binary: each module is one area of the
//! product, driving the real server on port 0 with real clients and a real
//! store. One binary instead of one per file, because each links the whole
//! server and SurrealDB: thirty of them filled a CI machine's disk.

mod common;

mod account_abuse;
mod accounts;
mod admin_board;
mod admin_cli;
mod billing;
mod calendar_live;
mod cancellation;
mod chat;
mod contract;
mod documents;
mod durability;
mod edge;
mod email;
mod group_commit;
mod homework;
mod hostile_text;
mod http_guard;
mod lesson_room;
mod lesson_timers;
mod limits;
mod live_lessons;
mod loadtest_smoke;
mod metrics;
mod no_oracle;
mod notifications;
mod packages;
mod phoenix_js;
mod ratings;
mod reminders;
mod reminders_restart;
mod scheduling;
mod shape;
mod socket_abuse;
mod sockets;
mod twilio_client;
