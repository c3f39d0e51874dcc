//! Wire types of the CMS real-time server.
//!
//! The socket speaks the Phoenix Channels v2 JSON serializer (`vsn=2.0.0`), so
//! unmodified Phoenix clients (phoenix.js, SwiftPhoenixClient,
//! JavaPhoenixClient) work against it. This crate holds the framing, the topic
//! names and the payloads of every event; it depends on serde only, so the
//! server, the actors, the load generator and the tests share one definition.

pub mod board;
pub mod calendar;
pub mod chat;
pub mod client_event;
pub mod documents;
pub mod event;
pub mod frame;
pub mod lesson;
pub mod notify;
pub mod presence;
pub mod reply;
pub mod topic;

pub use client_event::{ConversationEvent, EventError, LessonEvent, NoEvents, TopicEvents};
pub use frame::{Frame, FrameError};
pub use reply::{Reply, ReplyStatus};
pub use topic::Topic;
