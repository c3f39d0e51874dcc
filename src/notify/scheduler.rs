//! The one actor that sends reminders and notices. It sleeps on the
//! injected clock until the next pending job is due (no polling), works
//! through everything due, and sleeps again. A lesson change that adds a
//! job wakes it (`Wake`); a job added while it works makes it look once
//! more before sleeping. Its memory is only "when to wake": the jobs are in
//! the store, so a restart loses nothing and sends what fell due meanwhile.
//!
//! A panic while working a job is caught there (`deliver.rs`) and fails
//! that job only; one escaping a whole round is caught here and the round
//! tried again later. Should the actor stop all the same, its liveness flag
//! drops and `/readyz` answers 503, so a probe notices that no
//! notification would go out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Lowered when the actor is dropped, however it ends (a stop, or a
    /// panic unwinding through its task).
    alive: AliveGuard,
}

/// Whether the scheduler runs; the readiness check reads it.
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        // No log here: this also runs at every orderly shutdown.
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Stop the scheduler (tests of the readiness check use it).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

/// New jobs exist: look now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

impl Scheduler {
    fn new(notifier: Arc<Notifier>, alive: Arc<AtomicBool>) -> Self {
        let clock = notifier.clock.clone();
        Self {
            notifier,
            clock,
            running: false,
            again: false,
            armed: None,
            alive: AliveGuard(alive),
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
            async move {
                use futures_util::FutureExt;
                std::panic::AssertUnwindSafe(notifier.run_due())
                    .catch_unwind()
                    .await
            }
            .into_actor(self)
            .map(|res, act, ctx| {
                act.running = false;
                if std::mem::take(&mut act.again) {
                    return act.round(ctx);
                }
                let next = match res {
                    Ok(Ok(next)) => next,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "reminder round failed");
                        Some(act.clock.now() + Duration::seconds(ROUND_RETRY_SECS))
                    }
                    Err(panic) => {
                        let panic = crate::telemetry::panic_text(panic.as_ref());
                        tracing::error!(error = %panic, "reminder round panicked");
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
        self.alive.0.store(true, Ordering::SeqCst);
        // Whatever fell due while the server was down goes now.
        self.round(ctx);
    }
}

impl Handler<Stop> for Scheduler {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<Wake> for Scheduler {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.round(ctx);
    }
}

/// What request handlers hold to wake the scheduler, and the readiness
/// check to ask whether it still runs.
#[derive(Clone)]
pub struct NotifyHandle {
    addr: Addr<Scheduler>,
    alive: Arc<AtomicBool>,
}

impl NotifyHandle {
    /// Starts the scheduler actor.
    pub fn start(notifier: Arc<Notifier>) -> Self {
        let alive = Arc::new(AtomicBool::new(true));
        let addr = Scheduler::new(notifier, alive.clone()).start();
        Self { addr, alive }
    }

    pub fn wake(&self) {
        self.addr.do_send(Wake);
    }

    /// False once the actor has stopped for any reason: nothing due would
    /// be sent.
    pub fn is_running(&self) -> bool {
        self.alive.load(Ordering::SeqCst) && self.addr.connected()
    }

    /// Stops the scheduler for good (only tests want this).
    pub fn stop(&self) {
        self.addr.do_send(Stop);
    }
}
