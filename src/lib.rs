//! The CMS Education Platform real-time server: accounts, Phoenix-compatible
//! channels, durable chat and live scheduling over SurrealDB.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod billing;
pub mod chat_port;
pub mod chat_writer;
pub mod cli;
pub mod config;
pub mod documents;
pub mod files;
pub mod homework;
pub mod http_guard;
pub mod lesson_port;
pub mod lessons;
pub mod metrics;
pub mod notify;
pub mod routes;
pub mod scheduling;
pub mod seed;
pub mod startup;
pub mod state;
pub mod statements;
pub mod telemetry;
pub mod video;
