//! Passwords and tokens, the password policy, and the throttles on login
//! and sign-up. (The REST extractor that turns a bearer token into a
//! caller is `crate::routes::extract`.)

mod password;
pub mod policy;
pub mod throttle;
mod token;

pub use password::{
    PasswordError, hash_password, verify_password, verify_password_or_dummy, warm_dummy_hash,
};
pub use policy::{PolicyError, check_password};
pub use throttle::{LoginThrottle, RegisterLimit};
pub use token::{Claims, TokenKeys};

/// The per-node throttles of the account routes, made from `[limits]`.
#[derive(Debug)]
pub struct AccountGuards {
    pub login: LoginThrottle,
    pub register: RegisterLimit,
}

impl AccountGuards {
    pub fn new(limits: &crate::config::LimitsConfig) -> Self {
        Self {
            login: LoginThrottle::new(limits.login_failures_before_backoff),
            register: RegisterLimit::new(limits.register_per_address_per_hour),
        }
    }
}
