//! Who takes part in a run: the system under test, its address, and the
//! conversations with their members (seeded accounts on the CMS server,
//! made-up names on the baseline and the peer, which check no one).

use crate::seed::Seeded;

/// The system a scenario drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The CMS server: authenticated Phoenix channels, every message stored.
    Cms,
    /// `cms-bare`: the same frames on bare tokio-tungstenite, nothing
    /// stored, no actors: the ceiling on this machine.
    Bare,
    /// nats-server's WebSocket listener, one subject per conversation.
    Nats,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Self::Cms => "cms",
            Self::Bare => "bare",
            Self::Nats => "nats",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone)]
pub struct World {
    pub target: Target,
    /// `http://host:port` for cms and bare; `ws://host:port` for nats.
    pub url: String,
    pub conversations: Vec<Conversation>,
    /// For set-up only admins may do (cms).
    pub admin_token: Option<String>,
    /// Loopback source addresses sockets are spread over.
    pub sources: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("the seed file holds {have} conversations of {members}; {want} asked for")]
    SeedTooSmall {
        have: usize,
        members: usize,
        want: usize,
    },
    #[error("seeded conversations have {have} members, {want} asked for")]
    SeedMembers { have: usize, want: usize },
}

impl World {
    /// `conversations` of `members` from seeded accounts.
    pub fn seeded(
        url: &str,
        seed: &Seeded,
        conversations: usize,
        members: usize,
    ) -> Result<World, WorldError> {
        let have = seed.conversations.len();
        if have < conversations {
            return Err(WorldError::SeedTooSmall {
                have,
                members: seed.conversations.first().map_or(0, |c| c.members.len()),
                want: conversations,
            });
        }
        let mut convs = Vec::with_capacity(conversations);
        for c in seed.conversations.iter().take(conversations) {
            if c.members.len() < members {
                return Err(WorldError::SeedMembers {
                    have: c.members.len(),
                    want: members,
                });
            }
            // The tutor is last; keep them in every conversation.
            let mut m: Vec<Member> = c.members[..members - 1]
                .iter()
                .map(|u| Member {
                    id: u.id.clone(),
                    token: u.token.clone(),
                })
                .collect();
            if let Some(t) = c.members.last() {
                m.push(Member {
                    id: t.id.clone(),
                    token: t.token.clone(),
                });
            }
            convs.push(Conversation {
                id: c.id.clone(),
                members: m,
            });
        }
        Ok(World {
            target: Target::Cms,
            url: url.to_owned(),
            conversations: convs,
            admin_token: Some(seed.admin.token.clone()),
            sources: 8,
        })
    }

    /// Made-up conversations for systems that check no identity.
    pub fn synthetic(target: Target, url: &str, conversations: usize, members: usize) -> World {
        World {
            target,
            url: url.to_owned(),
            conversations: (0..conversations)
                .map(|c| Conversation {
                    id: format!("c{c}"),
                    members: (0..members)
                        .map(|m| Member {
                            id: format!("u{c}x{m}"),
                            token: "-".into(),
                        })
                        .collect(),
                })
                .collect(),
            admin_token: None,
            sources: 8,
        }
    }

    /// Every socket of the run: (conversation index, member).
    pub fn sockets(&self) -> Vec<(usize, &Member)> {
        self.conversations
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.members.iter().map(move |m| (i, m)))
            .collect()
    }

    /// The loopback address socket `r` connects from.
    pub fn source(&self, r: usize) -> std::net::IpAddr {
        let n = usize::from(self.sources.max(1));
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1 + (r % n) as u8))
    }
}
