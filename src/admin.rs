//! `cms-server admin create --email E`: makes an admin, reading the
//! password from standard input so it stays out of shell history.

use std::io::BufRead;

use cms_domain::Role;
use cms_store::{Store, UserRow};

use crate::accounts::{self, AccountError, NewAccount};
use crate::config::Config;

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
) -> Result<UserRow, AccountError> {
    let new = NewAccount {
        email,
        password,
        name,
        role: Role::Admin,
        phone: None,
        timezone: None,
    };
    accounts::create(store, new, None, chrono::Utc::now()).await
}
