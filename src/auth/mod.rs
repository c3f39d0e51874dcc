//! Passwords and tokens. (The REST extractor that turns a bearer token
//! into a caller is `crate::routes::extract`.)

mod password;
mod token;

pub use password::{PasswordError, hash_password, verify_password};
pub use token::{Claims, TokenKeys};
