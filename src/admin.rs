//! `cms-server admin create --email E`: makes an admin, reading the
//! password from standard input so it stays out of shell history.

use std::io::BufRead;

use crate::auth::hash_password;
use crate::config::Config;
use crate::routes::check_account;
use crate::store::{NewUser, Store};

pub async fn create_from_stdin(
    config: &Config,
    email: &str,
    name: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    let name = name.unwrap_or("Administrator");
    let email = check_account(email, &password, name).map_err(|e| e.to_string())?;
    let store = Store::open(&config.database).await?;
    let hash = hash_password(password).await.map_err(|e| e.to_string())?;
    let user = store
        .create_user(
            NewUser {
                email: &email,
                password_hash: &hash,
                name,
                role: "admin",
                phone: None,
                timezone: crate::routes::DEFAULT_TIMEZONE,
            },
            chrono::Utc::now(),
        )
        .await?;
    println!("admin created: {} ({})", user.email, user.id);
    Ok(())
}
