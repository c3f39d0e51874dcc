//! Where the database is and how to sign in; the `[database]` section of
//! the server's configuration.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    pub url: String,
    pub namespace: String,
    pub database: String,
    /// Root credentials for a `ws://` server.
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "surrealkv://data/db".into(),
            namespace: "cms".into(),
            database: "main".into(),
            username: None,
            password: None,
        }
    }
}
