//! Users and their families.

use chrono::{DateTime, Utc};
use cms_domain::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Store, StoreError, new_key, ts};

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub phone: Option<String>,
    /// IANA zone, e.g. Europe/London.
    pub timezone: String,
    /// Parents only.
    #[serde(default)]
    pub family_id: Option<String>,
    pub created_at: String,
}

#[derive(Clone, Copy)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub phone: Option<&'a str>,
    pub timezone: &'a str,
    /// An existing family to join (a second parent); a parent without one
    /// gets a new family.
    pub family_id: Option<&'a str>,
}

pub(super) const USER_FIELDS: &str = "record::id(id) AS id, email, name, role, phone, timezone, \
     (IF family != NONE THEN record::id(family) ELSE NONE END) AS family_id, created_at";

#[derive(Deserialize)]
struct Credentials {
    id: String,
    password_hash: String,
}

impl Store {
    /// Creates a user; a parent gets a new family in the same transaction.
    pub async fn create_user(
        &self,
        u: NewUser<'_>,
        now: DateTime<Utc>,
    ) -> Result<UserRow, StoreError> {
        let id = new_key();
        let (family, new_family) = match (u.role, u.family_id) {
            (_, Some(f)) => (Some(f.to_owned()), false),
            (Role::Parent, None) => (Some(new_key()), true),
            _ => (None, false),
        };
        let sql = format!(
            "BEGIN TRANSACTION;
             IF $new_family {{ CREATE type::record('family', $family) SET created_at = <datetime>$now; }};
             CREATE type::record('user', $id) CONTENT {{
                 email: $email, password_hash: $hash, name: $name, role: $role,
                 phone: $phone, timezone: $timezone,
                 family: IF $family != NONE THEN type::record('family', $family) ELSE NONE END,
                 created_at: <datetime>$now
             }} RETURN NONE;
             SELECT {USER_FIELDS} FROM ONLY type::record('user', $id);
             COMMIT TRANSACTION;"
        );
        let vars = json!({
            "id": id, "family": family, "new_family": new_family, "email": u.email, "hash": u.password_hash,
            "name": u.name, "role": u.role, "phone": u.phone, "timezone": u.timezone,
            "now": ts(now),
        });
        self.row(&sql, vars, 3).await
    }

    /// The user id and password hash for a login.
    pub async fn credentials(&self, email: &str) -> Result<(String, String), StoreError> {
        let c: Credentials = self
            .row(
                "SELECT record::id(id) AS id, password_hash FROM user WHERE email = $email LIMIT 1",
                json!({ "email": email }),
                0,
            )
            .await?;
        Ok((c.id, c.password_hash))
    }

    /// Changes what a user may edit about themselves; `phone: Some(None)`
    /// removes the number.
    pub async fn update_profile(
        &self,
        id: &str,
        name: Option<&str>,
        phone: Option<Option<&str>>,
        timezone: Option<&str>,
    ) -> Result<UserRow, StoreError> {
        let sql = format!(
            "UPDATE type::record('user', $id) SET name = $name ?? name,
                 phone = IF $set_phone THEN $phone ELSE phone END,
                 timezone = $timezone ?? timezone RETURN NONE;
             SELECT {USER_FIELDS} FROM ONLY type::record('user', $id);"
        );
        let vars = json!({
            "id": id, "name": name, "set_phone": phone.is_some(), "phone": phone.flatten(),
            "timezone": timezone,
        });
        self.row(&sql, vars, 1).await
    }

    pub async fn user(&self, id: &str) -> Result<UserRow, StoreError> {
        let sql = format!("SELECT {USER_FIELDS} FROM ONLY type::record('user', $id)");
        self.row(&sql, json!({ "id": id }), 0).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::DatabaseConfig;

    pub(crate) async fn mem_store() -> Store {
        let cfg = DatabaseConfig {
            url: "mem://".into(),
            ..DatabaseConfig::default()
        };
        Store::open(&cfg).await.expect("open")
    }

    #[tokio::test]
    async fn a_parent_gets_a_family_and_a_tutor_does_not() {
        let store = mem_store().await;
        let mut new = NewUser {
            email: "p@x.test",
            password_hash: "$argon2id$fake",
            name: "P",
            role: Role::Parent,
            phone: None,
            timezone: "Europe/London",
            family_id: None,
        };
        let p = store.create_user(new, Utc::now()).await.expect("parent");
        assert!(p.family_id.is_some());
        new.email = "t@x.test";
        new.role = Role::Tutor;
        let t = store.create_user(new, Utc::now()).await.expect("tutor");
        assert_eq!(t.family_id, None);
        assert_eq!(store.user(&t.id).await.expect("read").email, "t@x.test");
        assert!(matches!(
            store.create_user(new, Utc::now()).await,
            Err(StoreError::Duplicate(_))
        ));
        new.email = "p2@x.test";
        new.role = Role::Parent;
        new.family_id = p.family_id.as_deref();
        let p2 = store
            .create_user(new, Utc::now())
            .await
            .expect("second parent");
        assert_eq!(p2.family_id, p.family_id);
    }
}
