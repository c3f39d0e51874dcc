//! Sending one job: who gets it, on which channels, and the exactly-once
//! bookkeeping around each provider call.
//!
//! For every (job, channel, recipient) a delivery row is claimed before the
//! provider is called. A second look at the same job (a retry, another
//! node, a restart) finds the row and acts on its state: `sent` is never
//! sent again; `retry` waits for its time; `sending` means the process died
//! between handing the message over and storing the answer. For SMS, Twilio
//! is asked whether it accepted that text and the answer is trusted; for
//! email there is no such question to ask, so that narrow window stays
//! at-least-once (docs/notifications.md).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cms_actors::Broker;
use cms_actors::Clock;
use cms_actors::messages::Push;
use cms_domain::Role;
use cms_domain::notify::{Channel, DeliveryStatus, JobStatus};
use cms_protocol::calendar::Occurrence;
use cms_protocol::notify::{DeliveryFailed, FailedDelivery, Notification};
use cms_protocol::{Topic, event};

use super::email::{Email, IcsAttachment, Mailer};
use super::jobs::Kind;
use super::prefs::Prefs;
use super::sms::Twilio;
use super::text::{self, About, Reader};
use crate::config::RemindersConfig;
use crate::scheduling::ical::{FeedEvent, render_method};
use crate::telemetry::{error_chain, panic_text};
use cms_store::notify::{Begun, DeliveryUpdate, JobRow};
use cms_store::{Store, StoreError};

/// Jobs read per round.
const BATCH: usize = 64;
/// Jobs worked on at once: providers are slow, the store is not.
const CONCURRENCY: usize = 16;
/// How long a job whose processing hit a store error waits to be tried again.
const STORE_RETRY_SECS: i64 = 30;
/// The `channel` of a `notification:failed` entry for a whole job that
/// failed before any one delivery (docs/notifications.md).
const JOB_WIDE: &str = "job";

/// Everything a send needs; shared by the scheduler's rounds.
pub struct Notifier {
    pub store: Store,
    pub mailer: Mailer,
    /// None: SMS is not configured, texts are skipped.
    pub twilio: Option<Twilio>,
    /// Where in-app notifications and admin alerts are published.
    pub broker: Arc<dyn Broker>,
    pub clock: Arc<dyn Clock>,
    pub config: RemindersConfig,
    /// Free cancellation ends this long before a lesson (the policy's).
    pub notice: Duration,
    /// Where Twilio posts delivery receipts, if it can reach us.
    pub status_callback: Option<String>,
    /// The app's public root (`public_url`), for links in messages; none:
    /// messages say where in the app to go instead.
    pub app_url: Option<String>,
}

/// Where one delivery stands after an attempt.
enum Outcome {
    Done,
    Failed(String),
    RetryAt(DateTime<Utc>),
}

/// One message on one provider's channel. In-app notifications are not
/// among them: the store is their provider (`deliver_inapp`).
enum Send<'a> {
    Email(Email),
    Sms { to: &'a str, body: &'a str },
}

impl Send<'_> {
    fn channel(&self) -> Channel {
        match self {
            Self::Email(_) => Channel::Email,
            Self::Sms { .. } => Channel::Sms,
        }
    }
}

/// A provider's refusal: whether trying again could help.
struct SendError {
    message: String,
    permanent: bool,
    /// The message itself could not be made (not the provider's answer).
    unrenderable: bool,
}

/// The wait before a delivery's next attempt after `attempts` of them:
/// base × 2^(attempts−1), capped at `max` (a base under a second counts as
/// one, a cap under the base as the base).
pub fn backoff_secs(base: u64, max: u64, attempts: u32) -> u64 {
    let base = base.max(1);
    base.saturating_mul(1u64 << attempts.saturating_sub(1).min(30))
        .min(max.max(base))
}

/// What a caught panic carries.
type Panic = Box<dyn std::any::Any + std::marker::Send>;

/// Works through `jobs`, [`CONCURRENCY`] at a time. A job whose work
/// panics is handed to `panicked` and the others carry on: one bad job
/// must not take every later notification with it.
async fn work_each<W, F, P, G>(jobs: Vec<JobRow>, work: W, panicked: P)
where
    W: Fn(JobRow) -> F,
    F: std::future::Future<Output = ()>,
    P: Fn(JobRow, Panic) -> G,
    G: std::future::Future<Output = ()>,
{
    use futures_util::StreamExt;
    let (work, panicked) = (&work, &panicked);
    futures_util::stream::iter(jobs)
        .for_each_concurrent(CONCURRENCY, |job| async move {
            if let Err(panic) = caught(work(job.clone())).await {
                panicked(job, panic).await;
            }
        })
        .await;
}

/// Runs `work`, turning a panic inside it into an `Err` instead of letting
/// it unwind through the scheduler actor, which would stop it and with it
/// every later notification.
async fn caught<T>(work: impl std::future::Future<Output = T>) -> Result<T, Panic> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(work).catch_unwind().await
}

impl Notifier {
    /// Sends everything due now; answers when the next job falls due.
    pub async fn run_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        loop {
            let now = self.clock.now();
            let due = crate::metrics::timed("notify_due", self.store.due_jobs(now, BATCH)).await?;
            let n = due.len();
            work_each(
                due,
                |job| async move { self.work(&job).await },
                |job, panic| async move { self.job_panicked(&job, &panic).await },
            )
            .await;
            if n < BATCH {
                break;
            }
        }
        self.store.next_due().await
    }

    /// One job; a store error leaves it pending and looks again later.
    async fn work(&self, job: &JobRow) {
        if let Err(e) = self.process(job).await {
            tracing::warn!(job = %job.key, error = %e, "notification job failed; will retry");
            let later = self.clock.now() + Duration::seconds(STORE_RETRY_SECS);
            if let Err(e) = self.store.defer_job(&job.key, later).await {
                // The job stays due and is looked at again on the next
                // wake; say so rather than hide it.
                tracing::error!(job = %job.key, error = %e, "could not defer a failed notification job");
            }
        }
    }

    async fn process(&self, job: &JobRow) -> Result<(), StoreError> {
        let now = self.clock.now();
        let kind = job.kind;
        match kind {
            Kind::DbsExpiry => return self.process_dbs(job).await,
            Kind::HomeworkSet
            | Kind::HomeworkDue
            | Kind::HomeworkOverdue
            | Kind::HomeworkGraded => {
                return self.process_homework(job).await;
            }
            Kind::PaymentReceipt | Kind::PaymentAction | Kind::PaymentFailed => {
                return self.process_payment(job).await;
            }
            Kind::PayoutStatement => return self.process_payout(job).await,
            Kind::FamilyStatement => return self.process_statement(job).await,
            _ => {}
        }
        let Some(lesson_id) = job.lesson.as_deref() else {
            return self
                .store
                .finish_job(&job.key, JobStatus::Failed, Some("no lesson"), now)
                .await;
        };
        let lesson = match self.store.occurrence(lesson_id).await {
            Err(StoreError::NotFound) => {
                return self
                    .store
                    .finish_job(&job.key, JobStatus::Failed, Some("no such lesson"), now)
                    .await;
            }
            other => other?,
        };
        let start = lesson.start;
        if kind == Kind::Reminder {
            // Booked or with its room open; not once live or over.
            if !lesson.status.gets_reminders() {
                // The change withdrew it in its own transaction; this is a
                // second line only.
                return self
                    .store
                    .finish_job(
                        &job.key,
                        JobStatus::Withdrawn,
                        Some("lesson not booked"),
                        now,
                    )
                    .await;
            }
            if now >= start {
                return self
                    .store
                    .finish_job(
                        &job.key,
                        JobStatus::Skipped,
                        Some("the lesson had started"),
                        now,
                    )
                    .await;
            }
        }
        let previous = match (&lesson.rescheduled_from, kind) {
            (Some(p), Kind::Rescheduled) => self.store.occurrence(p).await.ok(),
            _ => None,
        };
        let covered = if job.lessons.len() > 1 {
            self.store.occurrences(&job.lessons).await?
        } else {
            vec![lesson.clone()]
        };
        let families = if job.families.is_empty() {
            let mut f: Vec<String> = lesson
                .students
                .iter()
                .map(|s| s.family_id.clone())
                .collect();
            f.sort();
            f.dedup();
            f
        } else {
            job.families.clone()
        };
        let mut people = self.store.recipients(&families, &lesson.tutor.id).await?;
        if kind == Kind::NoShow {
            // The families are told; the tutor is the one who missed it.
            people.retain(|r| r.role == Role::Parent);
        }
        let ics = self.invitation(kind, &covered, now);
        let about = About {
            kind,
            lesson: &lesson,
            count: job.lessons.len().max(1),
            previous: previous.as_ref(),
            notice: self.notice,
            offset_min: job.offset_min,
            now,
        };
        // A reader whose words cannot be rendered gets nothing from this
        // job: each channel they would have had is a failure of its own,
        // and everyone else is still sent to.
        let mut unrendered = Vec::new();
        let rendered: Vec<_> = people
            .iter()
            .filter_map(|r| {
                let reader = Reader {
                    name: &r.name,
                    tz: r.timezone,
                    family_id: if r.role == Role::Parent {
                        r.family_id.as_deref()
                    } else {
                        None
                    },
                };
                let prefs = Prefs::from_stored(r.notify.as_ref());
                let render = || text::render(&about, &reader);
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(render)) {
                    Ok(msg) => Some((r, prefs, msg)),
                    Err(panic) => {
                        let error = format!(
                            "the message could not be rendered: {}",
                            panic_text(panic.as_ref())
                        );
                        tracing::error!(job = %job.key, user = %r.id, %error, "a notification could not be rendered");
                        let sms = prefs.sms.on(kind)
                            && !r.sms_stopped
                            && self.twilio.is_some()
                            && r.phone.is_some();
                        let channels = [
                            (Channel::InApp, true),
                            (Channel::Email, prefs.email.on(kind)),
                            (Channel::Sms, sms),
                        ];
                        for (channel, on) in channels {
                            if on {
                                unrendered.push(FailedDelivery {
                                    channel: channel.as_str().to_owned(),
                                    user_id: r.id.clone(),
                                    error: error.clone(),
                                });
                            }
                        }
                        None
                    }
                }
            })
            .collect();
        let mut sends = Vec::new();
        for (r, prefs, msg) in &rendered {
            if prefs.email.on(kind) {
                sends.push((
                    r,
                    Send::Email(Email {
                        to: vec![(r.name.clone(), r.email.clone())],
                        subject: msg.subject.clone(),
                        text: msg.text.clone(),
                        html: msg.html.clone(),
                        ics: ics.clone(),
                        message_id: format!("{}.{}@cms-education", job.key, r.id),
                    }),
                ));
            }
            if prefs.sms.on(kind)
                && !r.sms_stopped
                && self.twilio.is_some()
                && let Some(phone) = r.phone.as_deref()
            {
                sends.push((
                    r,
                    Send::Sms {
                        to: phone,
                        body: &msg.sms,
                    },
                ));
            }
        }
        // Each (channel, person) is independent: send them side by side.
        let inapp = futures_util::future::join_all(rendered.iter().map(|(r, _, msg)| {
            self.deliver_inapp(&job.key, &r.id, job.kind, &msg.inapp, Some(&lesson.id))
        }));
        let providers =
            futures_util::future::join_all(sends.into_iter().map(|(r, send)| async move {
                let channel = send.channel();
                // A message that cannot be built fails its own delivery,
                // not its job's others, nor the scheduler.
                let outcome = match caught(self.deliver(&job.key, &r.id, send)).await {
                    Ok(outcome) => outcome,
                    Err(panic) => {
                        self.delivery_panicked(&job.key, channel, &r.id, &panic)
                            .await
                    }
                };
                (r, channel, outcome)
            }));
        let (inapp, outcomes) = futures_util::future::join(inapp, providers).await;
        inapp.into_iter().collect::<Result<(), _>>()?;
        let outcomes = outcomes
            .into_iter()
            .map(|(r, channel, outcome)| (r.id.as_str(), channel, outcome))
            .collect();
        self.settle(job, outcomes, unrendered, Some(lesson.id.clone()))
            .await
    }

    /// Ends a job from its deliveries' outcomes: waits for the earliest
    /// retry, else `sent`, else `failed` with the admins told which
    /// deliveries failed.
    async fn settle(
        &self,
        job: &JobRow,
        outcomes: Vec<(&str, Channel, Result<Outcome, StoreError>)>,
        mut failures: Vec<FailedDelivery>,
        occurrence_id: Option<String>,
    ) -> Result<(), StoreError> {
        let mut retry_at: Option<DateTime<Utc>> = None;
        for (user, channel, outcome) in outcomes {
            let outcome = outcome?;
            let said = match &outcome {
                Outcome::Done => "sent",
                Outcome::Failed(_) => "failed",
                Outcome::RetryAt(_) => "retry",
            };
            metrics::counter!(
                "cms_notify_deliveries_total",
                "channel" => channel.as_str(), "outcome" => said
            )
            .increment(1);
            match outcome {
                Outcome::Done => {}
                Outcome::Failed(error) => failures.push(FailedDelivery {
                    channel: channel.as_str().to_owned(),
                    user_id: user.to_owned(),
                    error,
                }),
                Outcome::RetryAt(t) => retry_at = Some(retry_at.map_or(t, |x| x.min(t))),
            }
        }
        let now = self.clock.now();
        if let Some(t) = retry_at {
            return self.store.defer_job(&job.key, t).await;
        }
        if failures.is_empty() {
            if job.kind == Kind::Reminder {
                let late = (now - job.scheduled_at).num_milliseconds().max(0);
                metrics::histogram!("cms_reminder_lateness_seconds").record(late as f64 / 1000.0);
            }
            return self
                .store
                .finish_job(&job.key, JobStatus::Sent, None, now)
                .await;
        }
        self.store
            .finish_job(&job.key, JobStatus::Failed, Some("a delivery failed"), now)
            .await?;
        let payload = DeliveryFailed {
            job_id: job.key.clone(),
            kind: job.kind.as_str().to_owned(),
            occurrence_id,
            document_id: job.document.clone(),
            failures,
        };
        self.broker.publish(Push::new(
            Topic::AdminMonitor,
            event::NOTIFICATION_FAILED,
            &payload,
        ));
        Ok(())
    }

    /// A homework notice, to the child's parents in the app and by email.
    /// A due or overdue notice for work handed in meanwhile is withdrawn
    /// (the hand-in withdrew it in its own transaction; this is a second
    /// line).
    async fn process_homework(&self, job: &JobRow) -> Result<(), StoreError> {
        let now = self.clock.now();
        let (Some(hw_id), Some(student)) = (job.homework.as_deref(), job.student.as_deref()) else {
            return self
                .store
                .finish_job(&job.key, JobStatus::Failed, Some("no homework"), now)
                .await;
        };
        let hw = match self.store.homework(hw_id).await {
            Err(StoreError::NotFound) => {
                return self
                    .store
                    .finish_job(&job.key, JobStatus::Failed, Some("no such homework"), now)
                    .await;
            }
            other => other?,
        };
        let handed = self.store.submission(hw_id, student).await?;
        if matches!(job.kind, Kind::HomeworkDue | Kind::HomeworkOverdue) && handed.is_some() {
            return self
                .store
                .finish_job(&job.key, JobStatus::Withdrawn, Some("handed in"), now)
                .await;
        }
        let Some(child) = hw.students.iter().find(|s| s.id == student) else {
            return self
                .store
                .finish_job(
                    &job.key,
                    JobStatus::Failed,
                    Some("not this homework's child"),
                    now,
                )
                .await;
        };
        let people = self
            .store
            .recipients(std::slice::from_ref(&child.family_id), &hw.tutor_id)
            .await?;
        let mut outcomes = Vec::new();
        for r in people.iter().filter(|r| r.role == Role::Parent) {
            let reader = Reader {
                name: &r.name,
                tz: r.timezone,
                family_id: r.family_id.as_deref(),
            };
            let msg = text::render_homework(job.kind, &hw, &child.name, handed.as_ref(), &reader);
            self.deliver_inapp(&job.key, &r.id, job.kind, &msg.inapp, None)
                .await?;
            let prefs = Prefs::from_stored(r.notify.as_ref());
            if !prefs.email.on(job.kind) {
                continue;
            }
            let outcome = self.email_letter(job, r, msg).await;
            outcomes.push((r.id.as_str(), Channel::Email, outcome));
        }
        self.settle(job, outcomes, Vec::new(), None).await
    }

    /// A notice about a charge, to the family's parents in the app and by
    /// email: its receipt, a request to confirm it, or its failure.
    async fn process_payment(&self, job: &JobRow) -> Result<(), StoreError> {
        let now = self.clock.now();
        let found = match job.charge.as_deref() {
            Some(key) => self.store.charge_by_key(key).await,
            None => Err(StoreError::NotFound),
        };
        let charge = match found {
            Err(StoreError::NotFound) => {
                return self
                    .store
                    .finish_job(&job.key, JobStatus::Failed, Some("no such charge"), now)
                    .await;
            }
            other => other?,
        };
        let lesson = self.store.occurrence(&charge.lesson_id).await?;
        let people = self
            .store
            .recipients(std::slice::from_ref(&charge.family_id), &charge.tutor_id)
            .await?;
        let parents = people.iter().filter(|r| r.role == Role::Parent);
        self.tell_always(job, parents, Some(&lesson.id), |reader| {
            text::render_payment(job.kind, &charge, &lesson, self.app_url.as_deref(), reader)
        })
        .await
    }

    /// Tells each of `people` `render`'s message in the app and by email,
    /// whatever their switches (money is always told), and settles the job.
    async fn tell_always<'p>(
        &self,
        job: &JobRow,
        people: impl Iterator<Item = &'p cms_store::notify::Recipient>,
        occurrence: Option<&str>,
        render: impl Fn(&Reader<'_>) -> text::Message,
    ) -> Result<(), StoreError> {
        let mut outcomes = Vec::new();
        for r in people {
            let reader = Reader {
                name: &r.name,
                tz: r.timezone,
                family_id: r.family_id.as_deref(),
            };
            let msg = render(&reader);
            self.deliver_inapp(&job.key, &r.id, job.kind, &msg.inapp, occurrence)
                .await?;
            let outcome = self.email_letter(job, r, msg).await;
            outcomes.push((r.id.as_str(), Channel::Email, outcome));
        }
        self.settle(job, outcomes, Vec::new(), None).await
    }

    /// A tutor's payout statement, in the app and by email: each lesson
    /// paid, with gross, fee and net.
    async fn process_payout(&self, job: &JobRow) -> Result<(), StoreError> {
        let now = self.clock.now();
        let found = match job.payout.as_deref() {
            Some(key) => self.store.payout_statement(key).await,
            None => Err(StoreError::NotFound),
        };
        let (payout, lessons) = match found {
            Err(StoreError::NotFound) => {
                return self
                    .store
                    .finish_job(&job.key, JobStatus::Failed, Some("no such payout"), now)
                    .await;
            }
            other => other?,
        };
        let people = self.store.recipients(&[], &payout.tutor_id).await?;
        let tutor = people.iter().filter(|r| r.id == payout.tutor_id);
        self.tell_always(job, tutor, None, |reader| {
            text::render_payout(&payout, &lessons, reader)
        })
        .await
    }

    /// A family's monthly statement, to its parents in the app and by
    /// email: each child's lessons, what was charged and how it was paid.
    async fn process_statement(&self, job: &JobRow) -> Result<(), StoreError> {
        let now = self.clock.now();
        let (Some(family), Some(month)) = (job.families.first(), job.month.as_deref()) else {
            return self
                .store
                .finish_job(&job.key, JobStatus::Failed, Some("no family or month"), now)
                .await;
        };
        let statement = crate::statements::statement_of(&self.store, family, month).await?;
        let people = self
            .store
            .recipients(std::slice::from_ref(family), "")
            .await?;
        let parents = people.iter().filter(|r| r.role == Role::Parent);
        self.tell_always(job, parents, None, |reader| {
            text::render_statement(&statement, reader)
        })
        .await
    }

    /// Emails one person a message without a calendar file, at most once;
    /// a message that cannot be built fails only this delivery.
    async fn email_letter(
        &self,
        job: &JobRow,
        r: &cms_store::notify::Recipient,
        msg: text::Message,
    ) -> Result<Outcome, StoreError> {
        let send = Send::Email(Email {
            to: vec![(r.name.clone(), r.email.clone())],
            subject: msg.subject,
            text: msg.text,
            html: msg.html,
            ics: None,
            message_id: format!("{}.{}@cms-education", job.key, r.id),
        });
        match caught(self.deliver(&job.key, &r.id, send)).await {
            Ok(outcome) => outcome,
            Err(panic) => {
                self.delivery_panicked(&job.key, Channel::Email, &r.id, &panic)
                    .await
            }
        }
    }

    /// A DBS reminder: to the tutor, in the app and by email, while that
    /// certificate is still the one that counts. Renewed meanwhile (a later
    /// verified one counts longer) or no longer verified: withdrawn.
    async fn process_dbs(&self, job: &JobRow) -> Result<(), StoreError> {
        let now = self.clock.now();
        let doc = match job.document.as_deref() {
            Some(id) => match self.store.document(id).await {
                Err(StoreError::NotFound) => None,
                other => Some(other?),
            },
            None => None,
        };
        let Some(doc) = doc else {
            return self
                .store
                .finish_job(&job.key, JobStatus::Failed, Some("no such document"), now)
                .await;
        };
        let lapses_at = doc.lapses_at;
        let counting = self.store.dbs_record(&doc.tutor_id, now).await?.valid_until;
        let current = doc.status == cms_domain::documents::DocumentStatus::Verified
            && lapses_at.is_some()
            && counting == lapses_at;
        let Some(lapses_at) = lapses_at.filter(|_| current) else {
            return self
                .store
                .finish_job(
                    &job.key,
                    JobStatus::Withdrawn,
                    Some("renewed or no longer verified"),
                    now,
                )
                .await;
        };
        let people = self.store.recipients(&[], &doc.tutor_id).await?;
        let mut outcomes = Vec::new();
        for r in people.iter().filter(|r| r.role == Role::Tutor) {
            let reader = Reader {
                name: &r.name,
                tz: r.timezone,
                family_id: None,
            };
            let msg = text::render_dbs(lapses_at, &reader);
            self.deliver_inapp(&job.key, &r.id, job.kind, &msg.inapp, None)
                .await?;
            let outcome = self.email_letter(job, r, msg).await;
            outcomes.push((r.id.as_str(), Channel::Email, outcome));
        }
        self.settle(job, outcomes, Vec::new(), None).await
    }

    /// The calendar file a notice carries: the booked lessons as a
    /// REQUEST, cancelled ones as a CANCEL. Reminders carry none.
    fn invitation(
        &self,
        kind: Kind,
        lessons: &[Occurrence],
        now: DateTime<Utc>,
    ) -> Option<IcsAttachment> {
        let method = match kind {
            Kind::Booked | Kind::Rescheduled => "REQUEST",
            // The lesson will not take place: calendars drop it.
            Kind::Cancelled | Kind::NoShow => "CANCEL",
            Kind::Reminder
            | Kind::DbsExpiry
            | Kind::HomeworkSet
            | Kind::HomeworkDue
            | Kind::HomeworkOverdue
            | Kind::HomeworkGraded
            | Kind::PaymentReceipt
            | Kind::PaymentAction
            | Kind::PaymentFailed
            | Kind::PayoutStatement
            | Kind::FamilyStatement => return None,
        };
        let events: Vec<FeedEvent> = lessons.iter().map(|o| FeedEvent::of(o, now)).collect();
        Some(IcsAttachment {
            method: method.into(),
            body: render_method("CMS Education lessons", method, &events),
        })
    }

    /// An in-app notification, at most once: the store is the provider,
    /// so the claim and the notification are one transaction.
    async fn deliver_inapp(
        &self,
        job: &str,
        user: &str,
        kind: Kind,
        text: &str,
        occurrence: Option<&str>,
    ) -> Result<(), StoreError> {
        let id = format!("{job}.{user}");
        let stored = self
            .store
            .deliver_inapp(job, user, &id, kind, text, occurrence, self.clock.now())
            .await?;
        // None: stored (and pushed) by an earlier attempt.
        if let Some(n) = stored {
            self.push_notification(user, n);
        }
        Ok(())
    }

    /// One message to one person, at most once.
    async fn deliver(&self, job: &str, user: &str, send: Send<'_>) -> Result<Outcome, StoreError> {
        let channel = send.channel();
        let now = self.clock.now();
        let address = match &send {
            Send::Email(e) => e.to.first().map(|t| t.1.clone()).unwrap_or_default(),
            Send::Sms { to, .. } => (*to).to_owned(),
        };
        let body = match &send {
            Send::Sms { body, .. } => Some(*body),
            _ => None,
        };
        let begun = self
            .store
            .begin_delivery(job, channel, user, &address, body, now)
            .await?;
        // A text is retried with the words it was first sent with.
        let first_body = match &begun {
            Begun::Existing(d) => d.body.clone(),
            _ => None,
        };
        let send = match (send, first_body.as_deref()) {
            (Send::Sms { to, .. }, Some(body)) => Send::Sms { to, body },
            (send, _) => send,
        };
        let attempts = match begun {
            Begun::JobGone => return Ok(Outcome::Done),
            Begun::New => 1,
            Begun::Existing(d) => {
                match d.status {
                    DeliveryStatus::Retry | DeliveryStatus::Sending => {
                        if d.status == DeliveryStatus::Retry
                            && let Some(t) = d.next_attempt_at.filter(|t| *t > now)
                        {
                            return Ok(Outcome::RetryAt(t));
                        }
                        // The last attempt died mid-send or got no clear
                        // answer: did the provider take it after all?
                        if let Some(id) = self.already_accepted(&send, d.created_at).await {
                            self.record(
                                job,
                                channel,
                                user,
                                DeliveryStatus::Sent,
                                d.attempts,
                                None,
                                Some(&id),
                                None,
                            )
                            .await?;
                            return Ok(Outcome::Done);
                        }
                    }
                    DeliveryStatus::Failed => {
                        return Ok(Outcome::Failed("failed earlier".into()));
                    }
                    DeliveryStatus::Sent | DeliveryStatus::Delivered | DeliveryStatus::Skipped => {
                        return Ok(Outcome::Done);
                    }
                }
                let n = d.attempts + 1;
                self.record(
                    job,
                    channel,
                    user,
                    DeliveryStatus::Sending,
                    n,
                    None,
                    None,
                    None,
                )
                .await?;
                n
            }
        };
        match self.send(&send).await {
            Ok(id) => {
                self.record(
                    job,
                    channel,
                    user,
                    DeliveryStatus::Sent,
                    attempts,
                    None,
                    id.as_deref(),
                    None,
                )
                .await?;
                Ok(Outcome::Done)
            }
            Err(e) if e.permanent || attempts >= self.config.max_attempts => {
                if e.unrenderable {
                    // Not the provider's refusal: our own text could not be
                    // made into a message. Someone must look.
                    tracing::error!(job, %channel, user, error = %e.message, "a notification could not be rendered");
                } else {
                    tracing::warn!(job, %channel, user, attempts, error = %e.message, "delivery failed");
                }
                self.record(
                    job,
                    channel,
                    user,
                    DeliveryStatus::Failed,
                    attempts,
                    None,
                    None,
                    Some(&e.message),
                )
                .await?;
                Ok(Outcome::Failed(e.message))
            }
            Err(e) => {
                let at = self.clock.now() + self.backoff(attempts);
                self.record(
                    job,
                    channel,
                    user,
                    DeliveryStatus::Retry,
                    attempts,
                    Some(at),
                    None,
                    Some(&e.message),
                )
                .await?;
                Ok(Outcome::RetryAt(at))
            }
        }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let secs = backoff_secs(
            self.config.backoff_base_secs,
            self.config.backoff_max_secs,
            attempts,
        );
        Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        job: &str,
        channel: Channel,
        user: &str,
        status: DeliveryStatus,
        attempts: u32,
        next: Option<DateTime<Utc>>,
        provider_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let u = DeliveryUpdate {
            status,
            attempts,
            next_attempt_at: next.map(cms_store::ts),
            provider_id,
            error,
        };
        self.store
            .update_delivery(job, channel, user, &u, self.clock.now())
            .await
    }

    /// After a crash mid-send: the provider's id for the message if it
    /// already accepted it. Only Twilio can be asked.
    async fn already_accepted(&self, send: &Send<'_>, since: DateTime<Utc>) -> Option<String> {
        match (send, &self.twilio) {
            (Send::Sms { to, body }, Some(t)) => {
                match t.find_sent(to, body, since - Duration::minutes(5)).await {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not ask Twilio about an earlier send");
                        None
                    }
                }
            }
            _ => None,
        }
    }

    /// Hands the message to its provider; the provider's id on success.
    async fn send(&self, send: &Send<'_>) -> Result<Option<String>, SendError> {
        match send {
            Send::Email(email) => match self.mailer.send(email).await {
                Ok(()) => Ok(Some(email.message_id.clone())),
                Err(e) => Err(SendError {
                    permanent: e.is_permanent(),
                    unrenderable: e.is_unrenderable(),
                    message: error_chain(&e),
                }),
            },
            Send::Sms { to, body } => {
                let Some(t) = &self.twilio else {
                    return Err(SendError {
                        message: "SMS is not configured".into(),
                        permanent: true,
                        unrenderable: false,
                    });
                };
                match t.send(to, body, self.status_callback.as_deref()).await {
                    Ok(sent) => Ok(Some(sent.sid)),
                    Err(e) => Err(SendError {
                        permanent: e.is_permanent(),
                        unrenderable: false,
                        message: error_chain(&e),
                    }),
                }
            }
        }
    }
}

impl Notifier {
    /// A delivery whose work panicked: recorded failed with the reason, so
    /// the job finishes `failed` and admins hear of it; never retried,
    /// since the same words would panic again.
    async fn delivery_panicked(
        &self,
        job: &str,
        channel: Channel,
        user: &str,
        panic: &Panic,
    ) -> Result<Outcome, StoreError> {
        let reason = format!(
            "the message could not be prepared: {}",
            panic_text(panic.as_ref())
        );
        tracing::error!(job, %channel, user, error = %reason, "a notification delivery panicked");
        self.record(
            job,
            channel,
            user,
            DeliveryStatus::Failed,
            1,
            None,
            None,
            Some(&reason),
        )
        .await?;
        Ok(Outcome::Failed(reason))
    }

    /// A job whose work panicked outside any one delivery: marked `failed`
    /// with the reason (a pending job would panic again on every round and
    /// after every restart), and admins told; the round goes on.
    async fn job_panicked(&self, job: &JobRow, panic: &Panic) {
        let reason = format!(
            "the job could not be prepared: {}",
            panic_text(panic.as_ref())
        );
        tracing::error!(job = %job.key, error = %reason, "a notification job panicked");
        let now = self.clock.now();
        if let Err(e) = self
            .store
            .finish_job(&job.key, JobStatus::Failed, Some(&reason), now)
            .await
        {
            tracing::error!(job = %job.key, error = %e, "could not mark a panicked notification job failed");
            return;
        }
        let payload = DeliveryFailed {
            job_id: job.key.clone(),
            kind: job.kind.as_str().to_owned(),
            occurrence_id: job.lesson.clone(),
            document_id: job.document.clone(),
            // No one delivery failed: the whole job did.
            failures: vec![FailedDelivery {
                channel: JOB_WIDE.to_owned(),
                user_id: String::new(),
                error: reason,
            }],
        };
        self.broker.publish(Push::new(
            Topic::AdminMonitor,
            event::NOTIFICATION_FAILED,
            &payload,
        ));
    }

    fn push_notification(&self, user: &str, n: Notification) {
        self.broker
            .publish(Push::new(Topic::User(user.into()), event::NOTIFICATION, &n));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use cms_domain::notify::{JobKind, JobStatus};

    use super::*;

    #[test]
    fn the_retry_schedule_doubles_from_its_base_up_to_its_cap() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff_secs(60, 3600, n)).collect();
        assert_eq!(waits, vec![60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(
            backoff_secs(60, 3600, 0),
            60,
            "before any attempt: the base"
        );
        assert_eq!(backoff_secs(60, 3600, u32::MAX), 3600, "no overflow");
        assert_eq!(backoff_secs(0, 10, 3), 4, "a base of 0 counts as 1 s");
        assert_eq!(
            backoff_secs(300, 60, 2),
            300,
            "a cap under the base is the base"
        );
    }

    fn job(key: &str) -> JobRow {
        let at: DateTime<Utc> = "2027-03-01T09:00:00Z".parse().expect("an instant");
        JobRow {
            key: key.into(),
            kind: JobKind::Booked,
            lesson: Some("l1".into()),
            document: None,
            homework: None,
            student: None,
            charge: None,
            payout: None,
            month: None,
            lessons: vec!["l1".into()],
            families: Vec::new(),
            offset_min: None,
            due_at: at,
            scheduled_at: at,
            status: JobStatus::Pending,
        }
    }

    #[actix_web::test]
    async fn a_job_that_panics_fails_alone_and_the_next_is_still_worked() {
        let worked = Mutex::new(Vec::new());
        let panicked = Mutex::new(Vec::new());
        let jobs = ["first", "bad", "after"].map(job).to_vec();
        work_each(
            jobs,
            |j| {
                let worked = &worked;
                async move {
                    if j.key == "bad" {
                        panic!("lettre could not format a mailbox");
                    }
                    worked.lock().expect("not poisoned").push(j.key);
                }
            },
            |j, p| {
                let panicked = &panicked;
                async move {
                    panicked
                        .lock()
                        .expect("not poisoned")
                        .push((j.key, panic_text(p.as_ref())));
                }
            },
        )
        .await;
        let mut worked = worked.into_inner().expect("not poisoned");
        worked.sort();
        assert_eq!(worked, ["after", "first"]);
        assert_eq!(
            panicked.into_inner().expect("not poisoned"),
            [(
                "bad".to_owned(),
                "lettre could not format a mailbox".to_owned()
            )]
        );
    }
}
