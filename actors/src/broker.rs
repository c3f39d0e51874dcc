//! The one way a server push leaves its publisher: a [`Broker`] routes it by
//! its topic to whoever listens there.
//!
//! Publishers (a lesson change, a notification delivery, later a payment
//! webhook) hold an `Arc<dyn Broker>` and never see the registry. Today the
//! only implementation is [`LocalBroker`], in process; with several nodes a
//! broker that also forwards to the others (NATS) takes its place, and no
//! publisher changes.

use actix::Addr;

use crate::messages::Push;
use crate::registry::{Publish, Registry};

/// Delivers pushes to the sockets listening on their topic.
pub trait Broker: Send + Sync + 'static {
    /// Fire and forget, routed by `push.topic`: `conversation:<id>`,
    /// `family:<id>`, `tutor:<id>` and `admin:monitor` reach the sockets
    /// joined to that topic's actor, if it is running (no actor means
    /// nobody listens); `user:<id>` reaches every socket of that user that
    /// has joined it. A push is a hint to refresh, never the only copy, so
    /// nothing waits for delivery.
    fn publish(&self, push: Push);
}

/// The in-process broker: the registry knows every running topic actor and
/// every socket of this process.
#[derive(Clone)]
pub struct LocalBroker {
    registry: Addr<Registry>,
}

impl LocalBroker {
    pub fn new(registry: Addr<Registry>) -> Self {
        Self { registry }
    }
}

impl Broker for LocalBroker {
    fn publish(&self, push: Push) {
        self.registry.do_send(Publish(push));
    }
}
