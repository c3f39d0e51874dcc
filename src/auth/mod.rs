//! Passwords, tokens, and the authenticated caller.

mod extract;
mod password;
mod token;

pub use extract::{AuthUser, authenticate};
pub use password::{hash_password, verify_password};
pub use token::{Claims, TokenKeys};
