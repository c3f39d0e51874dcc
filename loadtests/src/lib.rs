//! A Phoenix v2 protocol client for the CMS server, shared by the load
//! generator and the integration tests.

mod client;
mod error;

pub use client::{PhxClient, socket_url};
pub use error::ClientError;
