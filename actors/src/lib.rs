//! The actors of the CMS real-time server.
//!
//! - [`socket::SocketSession`]: one per WebSocket; speaks Phoenix v2 frames.
//! - [`registry::Registry`]: the hub; finds or starts topic actors, knows
//!   every live socket (so logout, suspension and shutdown can close them),
//!   admits sockets up to the per-user cap and holds each user's shared
//!   chat-message bucket.
//! - [`conversation::ConversationActor`]: one per active conversation; the only
//!   writer of its messages, seq and presence.
//! - [`group::GroupActor`]: one per active family, per active tutor, and one
//!   for admins (`admin:monitor`); owns who may hear that topic and fans
//!   pushes (e.g. `calendar:changed`) out to its sockets; the admins' one
//!   answers a join with the live board ([`board`]).
//! - [`lesson::LessonActor`]: one per active lesson room (`session:<id>`);
//!   presence, starting and ending the lesson through the
//!   [`lesson_port::LessonPort`] the server serves, each person's video
//!   handoff, WebRTC signals relayed between participants.
//! - [`topic_actor::TopicCore`]: what every topic actor shares (sockets,
//!   idle retire, restart); [`presence::Presence`] for topics with presence.
//! - [`policy`]: who may join which topic, for every kind of topic.
//! - [`broker::Broker`]: how publishers outside the actors push to a topic;
//!   [`broker::LocalBroker`] in process, a cross-node one later.
//!
//! Topic actors are started under actix's `Supervisor`: a panic inside a
//! handler is caught, the actor is restarted with its sockets kept and its
//! cached state reloaded from the store. The store (see [`store::ChatStore`])
//! is the source of truth; an actor's memory is a cache.

pub mod board;
pub mod broker;
pub mod clock;
pub mod conversation;
pub mod group;
pub mod guard;
pub mod identity;
pub mod lesson;
pub mod lesson_port;
pub mod messages;
pub mod policy;
pub mod presence;
pub mod rate_limit;
pub mod registry;
pub mod socket;
pub mod store;
pub mod subscribers;
pub mod topic_actor;

pub use broker::{Broker, LocalBroker};
pub use clock::{Clock, ManualClock, SystemClock};
pub use identity::{Identity, Role};
pub use lesson_port::LessonPort;
pub use registry::Registry;
pub use store::{ChatStore, StoreError};
