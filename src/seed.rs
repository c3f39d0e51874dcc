//! `cms-server seed`: accounts in bulk for load runs.
//!
//! Registration hashes every password with argon2 (tens of milliseconds
//! each), which would make seeding 20,000 sockets' worth of users take
//! longer than the run itself. This writes the same records through the
//! same store calls, with one hash shared by every seeded account, and
//! signs each a token of a real login session.

use chrono::{DateTime, Utc};
use cms_domain::Role;
use futures_util::{StreamExt, TryStreamExt};

use crate::auth::{PasswordError, TokenKeys, hash_password};
use cms_store::{NewUser, Store, StoreError};

/// The password of every seeded account.
pub const SEED_PASSWORD: &str = "loadtest-password";

/// Conversations seeded side by side: enough to keep the store busy
/// without piling up write conflicts.
const PARALLEL: usize = 16;

#[derive(Debug, Clone, Copy)]
pub struct SeedSpec {
    pub conversations: usize,
    /// Members per conversation: `members - 1` parents of one family and
    /// their tutor; at least 2.
    pub members: usize,
    pub token_ttl: chrono::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("a conversation needs at least 2 members (a parent and a tutor)")]
    TooFewMembers,
    #[error("could not hash the seed password")]
    Hash(#[source] PasswordError),
    #[error("could not write seed accounts")]
    Store(#[from] StoreError),
    #[error("could not sign a token")]
    Token(#[from] jsonwebtoken::errors::Error),
}

/// Writes the accounts and conversations; emails carry `tag` so a store
/// can be seeded more than once.
pub async fn seed(
    store: &Store,
    keys: &TokenKeys,
    spec: SeedSpec,
    tag: &str,
    now: DateTime<Utc>,
) -> Result<Seeded, SeedError> {
    if spec.members < 2 {
        return Err(SeedError::TooFewMembers);
    }
    let hash = hash_password(SEED_PASSWORD.to_owned())
        .await
        .map_err(SeedError::Hash)?;
    let seeder = Seeder {
        store,
        keys,
        hash: &hash,
        tag,
        now,
        exp: now + spec.token_ttl,
    };
    let admin = seeder
        .user(Role::Admin, &format!("admin-{tag}"), None)
        .await?
        .1;
    let conversations = futures_util::stream::iter(0..spec.conversations)
        .map(|i| seeder.conversation(i, spec.members))
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    Ok(Seeded {
        admin,
        conversations,
    })
}

struct Seeder<'a> {
    store: &'a Store,
    keys: &'a TokenKeys,
    hash: &'a str,
    tag: &'a str,
    now: DateTime<Utc>,
    exp: DateTime<Utc>,
}

impl Seeder<'_> {
    /// A user with a login session; returns its family too.
    async fn user(
        &self,
        role: Role,
        handle: &str,
        family: Option<&str>,
    ) -> Result<(Option<String>, SeededUser), SeedError> {
        let email = format!("{handle}@load.test");
        let row = self
            .store
            .create_user(
                NewUser {
                    email: &email,
                    password_hash: self.hash,
                    name: handle,
                    role,
                    phone: None,
                    timezone: crate::accounts::DEFAULT_TIMEZONE,
                    family_id: family,
                },
                self.now,
            )
            .await?;
        let sid = self
            .store
            .create_session(&row.id, self.now, self.exp)
            .await?;
        let token = self.keys.issue(&row.id, &sid, self.now, self.exp)?;
        Ok((row.family_id, SeededUser { id: row.id, token }))
    }

    /// One family of `members - 1` parents, a tutor, and their thread.
    async fn conversation(
        &self,
        i: usize,
        members: usize,
    ) -> Result<SeededConversation, SeedError> {
        let tag = self.tag;
        let (family, first) = self
            .user(Role::Parent, &format!("parent-{tag}-{i}-0"), None)
            .await?;
        let family = family.ok_or_else(|| StoreError::Invalid("parent without a family".into()))?;
        let mut people = vec![first];
        for p in 1..members - 1 {
            let (_, u) = self
                .user(
                    Role::Parent,
                    &format!("parent-{tag}-{i}-{p}"),
                    Some(&family),
                )
                .await?;
            people.push(u);
        }
        let (_, tutor) = self
            .user(Role::Tutor, &format!("tutor-{tag}-{i}"), None)
            .await?;
        let (c, _) = self
            .store
            .open_conversation(&family, &tutor.id, None, u32::MAX, self.now)
            .await?;
        people.push(tutor);
        Ok(SeededConversation {
            id: c.id,
            members: people,
        })
    }
}

/// The `seed` command: seeds the configured store and writes the accounts
/// as JSON to `out`. Run it before the server starts on the same store.
pub async fn run(
    config: &crate::config::Config,
    spec: SeedSpec,
    out: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(&config.database).await?;
    let secret = match &config.auth.secret {
        Some(s) => s.clone(),
        None => store.token_secret().await?,
    };
    let keys = TokenKeys::new(secret.as_bytes());
    let started = std::time::Instant::now();
    let seeded = seed(&store, &keys, spec, &cms_store::new_key(), Utc::now()).await?;
    std::fs::write(out, serde_json::to_vec(&seeded)?)?;
    println!(
        "seeded {} conversations of {} ({} users) in {:.1} s into {}",
        seeded.conversations.len(),
        spec.members,
        seeded
            .conversations
            .iter()
            .map(|c| c.members.len())
            .sum::<usize>(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// The seed file's shape: what `cms-loadtest --seed` reads. The load
/// generator keeps its own copy of these types (it speaks to the server
/// only through files and the wire), and a test reads what this writes
/// with that copy.
mod file {
    use serde::Serialize;

    /// A seeded account and the bearer token of its login session.
    #[derive(Debug, Clone, Serialize)]
    pub struct SeededUser {
        pub id: String,
        pub token: String,
    }

    /// A conversation and everyone who may join it: the family's parents,
    /// then the tutor.
    #[derive(Debug, Clone, Serialize)]
    pub struct SeededConversation {
        pub id: String,
        pub members: Vec<SeededUser>,
    }

    #[derive(Debug, Clone, Serialize)]
    pub struct Seeded {
        /// An admin, for set-up the API reserves to admins.
        pub admin: SeededUser,
        pub conversations: Vec<SeededConversation>,
    }
}

pub use file::{Seeded, SeededConversation, SeededUser};
