//! The one actor that sends reminders and notices. It sleeps on the
//! injected clock until the next pending job is due (no polling), works
//! through everything due, and sleeps again. A lesson change that adds a
//! job wakes it (`Wake`); a job added while it works makes it look once
//! more before sleeping. Its memory is only "when to wake": the jobs are in
//! the store, so a restart loses nothing and sends what fell due meanwhile.

use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Duration, Utc};
use cms_actors::Clock;

use super::deliver::Notifier;

/// After the store failed a round, look again this much later.
const ROUND_RETRY_SECS: i64 = 30;

pub struct Scheduler {
    notifier: Arc<Notifier>,
    clock: Arc<dyn Clock>,
    /// A round is being worked through.
    running: bool,
    /// Woken during a round: look again before sleeping.
    again: bool,
    /// The sleep in progress and when it ends.
    armed: Option<(DateTime<Utc>, SpawnHandle)>,
}

/// New jobs exist: look now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

impl Scheduler {
    pub fn new(notifier: Arc<Notifier>) -> Self {
        let clock = notifier.clock.clone();
        Self {
            notifier,
            clock,
            running: false,
            again: false,
            armed: None,
        }
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            self.again = true;
            return;
        }
        if let Some((_, h)) = self.armed.take() {
            ctx.cancel_future(h);
        }
        self.running = true;
        let notifier = self.notifier.clone();
        ctx.spawn(
            async move { notifier.run_due().await }
                .into_actor(self)
                .map(|res, act, ctx| {
                    act.running = false;
                    if std::mem::take(&mut act.again) {
                        return act.round(ctx);
                    }
                    let next = match res {
                        Ok(next) => next,
                        Err(e) => {
                            tracing::error!(error = %e, "reminder round failed");
                            Some(act.clock.now() + Duration::seconds(ROUND_RETRY_SECS))
                        }
                    };
                    if let Some(at) = next {
                        act.sleep_until(at, ctx);
                    }
                }),
        );
    }

    fn sleep_until(&mut self, at: DateTime<Utc>, ctx: &mut Context<Self>) {
        let sleep = self.clock.sleep_until(at);
        let h = ctx.spawn(sleep.into_actor(self).map(|(), act, ctx| {
            act.armed = None;
            act.round(ctx);
        }));
        self.armed = Some((at, h));
    }
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Whatever fell due while the server was down goes now.
        self.round(ctx);
    }
}

impl Handler<Wake> for Scheduler {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.round(ctx);
    }
}

/// What request handlers hold to wake the scheduler.
#[derive(Clone)]
pub struct NotifyHandle(pub Addr<Scheduler>);

impl NotifyHandle {
    pub fn wake(&self) {
        self.0.do_send(Wake);
    }
}
