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

/// Work the scheduler's round does before the notifications: the lesson
/// timers (`crate::lessons::timers`). They run first so a no-show notice
/// they write goes out in the same round; they share the scheduler's wake
/// (every lesson change already wakes it), its panic net and its liveness
/// flag. A trait so this module need not know the lessons, which depend
/// on it.
pub trait Timers: Send + Sync {
    /// Does everything due now; answers when the next step falls due.
    fn run_due(
        &self,
    ) -> futures_util::future::BoxFuture<'_, Result<Option<DateTime<Utc>>, cms_store::StoreError>>;
}

/// What one part of a round answered: its next due time, an error, or a
/// caught panic.
type Answer =
    Result<Result<Option<DateTime<Utc>>, cms_store::StoreError>, Box<dyn std::any::Any + Send>>;

pub struct Scheduler {
    notifier: Arc<Notifier>,
    /// The lesson timers, run at the start of every round.
    timers: Option<Arc<dyn Timers>>,
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
    fn new(
        notifier: Arc<Notifier>,
        timers: Option<Arc<dyn Timers>>,
        alive: Arc<AtomicBool>,
    ) -> Self {
        let clock = notifier.clock.clone();
        Self {
            notifier,
            timers,
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
        let timers = self.timers.clone();
        ctx.spawn(
            async move {
                use futures_util::FutureExt;
                let timers: Answer = match &timers {
                    Some(t) => {
                        std::panic::AssertUnwindSafe(t.run_due())
                            .catch_unwind()
                            .await
                    }
                    None => Ok(Ok(None)),
                };
                let notices: Answer = std::panic::AssertUnwindSafe(notifier.run_due())
                    .catch_unwind()
                    .await;
                (timers, notices)
            }
            .into_actor(self)
            .map(|(timers, notices), act, ctx| {
                act.running = false;
                if std::mem::take(&mut act.again) {
                    return act.round(ctx);
                }
                let next = [
                    act.next_wake(timers, "lesson timer"),
                    act.next_wake(notices, "reminder"),
                ]
                .into_iter()
                .flatten()
                .min();
                if let Some(at) = next {
                    act.sleep_until(at, ctx);
                }
            }),
        );
    }

    /// When a part of the round wants to run again: when it said, or a
    /// little later after a failure or a panic (logged here).
    fn next_wake(&self, answer: Answer, what: &str) -> Option<DateTime<Utc>> {
        match answer {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "{what} round failed");
                Some(self.clock.now() + Duration::seconds(ROUND_RETRY_SECS))
            }
            Err(panic) => {
                let panic = crate::telemetry::panic_text(panic.as_ref());
                tracing::error!(error = %panic, "{what} round panicked");
                Some(self.clock.now() + Duration::seconds(ROUND_RETRY_SECS))
            }
        }
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
        Self::start_with(notifier, None)
    }

    /// Starts the scheduler with the lesson timers run in each round.
    pub fn start_with(notifier: Arc<Notifier>, timers: Option<Arc<dyn Timers>>) -> Self {
        let alive = Arc::new(AtomicBool::new(true));
        let addr = Scheduler::new(notifier, timers, alive.clone()).start();
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
