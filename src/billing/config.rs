//! `[stripe]` and `[billing]` (docs/billing.md), declared with the rest of
//! the configuration in `crate::config` (which must not import billing's
//! use cases) and named here for billing's code.

pub use crate::config::{BillingConfig, StripeConfig};
