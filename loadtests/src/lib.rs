//! A Phoenix v2 protocol client for the CMS server, shared by the load
//! generator and the integration tests, and the load generator's parts:
//! scenarios, the delivery tracker, reports and the NATS peer's client.

mod client;
pub mod conn;
mod error;
pub mod nats;
pub mod proc_stats;
pub mod report;
pub mod scenario;
pub mod seed;
pub mod stamp;
pub mod track;
pub mod world;

pub use client::{EventHook, PhxClient, socket_url};
pub use error::ClientError;
