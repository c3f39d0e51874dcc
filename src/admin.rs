//! `cms-server admin create --email E`: makes an admin, reading the
//! password from standard input so it stays out of shell history.

use std::io::BufRead;

use crate::auth::hash_password;
use crate::config::Config;
use crate::error::ApiError;
use crate::routes::check_account;
use cms_store::{NewUser, Store, StoreError, UserRow};

pub async fn create_from_stdin(
    config: &Config,
    email: &str,
    name: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']);
    let store = Store::open(&config.database).await?;
    let user = create_admin(&store, email, password, name.unwrap_or("Administrator")).await?;
    println!("admin created: {} ({})", user.email, user.id);
    Ok(())
}

/// Stores an admin account after the same checks as registration.
pub async fn create_admin(
    store: &Store,
    email: &str,
    password: &str,
    name: &str,
) -> Result<UserRow, ApiError> {
    let email = check_account(email, password, name)?;
    let hash = hash_password(password.to_owned()).await?;
    let new = NewUser {
        email: &email,
        password_hash: &hash,
        name,
        role: cms_domain::Role::Admin,
        phone: None,
        timezone: crate::routes::DEFAULT_TIMEZONE,
        family_id: None,
    };
    store
        .create_user(new, chrono::Utc::now())
        .await
        .map_err(|e| match e {
            StoreError::Duplicate(_) => {
                ApiError::Conflict("that email is already registered".into())
            }
            other => other.into(),
        })
}
