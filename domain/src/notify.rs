//! Notification jobs, their per-recipient deliveries, and channels.

use crate::vocab::vocab;

vocab! {
    /// What a job tells people.
    pub enum JobKind {
        Reminder = "reminder",
        Booked = "booked",
        Cancelled = "cancelled",
        Rescheduled = "rescheduled",
        /// The tutor never started the lesson: told to the families like a
        /// cancellation.
        NoShow = "no_show",
        /// A tutor's DBS lapses soon (30 and 7 days ahead): told to the
        /// tutor, about a document rather than a lesson.
        DbsExpiry = "dbs_expiry",
        /// Homework set for a child: to the child's parents.
        HomeworkSet = "homework_set",
        /// Due within a day and not handed in.
        HomeworkDue = "homework_due",
        /// Past due and not handed in.
        HomeworkOverdue = "homework_overdue",
        /// The tutor graded a hand-in.
        HomeworkGraded = "homework_graded",
        /// A charge went through: the family's receipt.
        PaymentReceipt = "payment_receipt",
        /// The bank wants the parent to confirm a charge (SCA), or there
        /// is no card to charge.
        PaymentAction = "payment_action",
        /// A charge was given up: the lesson is unpaid.
        PaymentFailed = "payment_failed",
        /// A tutor's weekly payout: each lesson, gross, fee and net.
        PayoutStatement = "payout_statement",
        /// A family's month: each child's lessons, what was charged and
        /// how it was paid.
        FamilyStatement = "family_statement",
    }
}

vocab! {
    /// pending → sent | failed | skipped (the lesson had started) |
    /// withdrawn (the lesson changed).
    pub enum JobStatus {
        Pending = "pending",
        Sent = "sent",
        Failed = "failed",
        Skipped = "skipped",
        Withdrawn = "withdrawn",
    }
}

vocab! {
    /// One message to one person on one channel: sending (handed to the
    /// provider, answer not yet stored) → sent → delivered | failed; retry
    /// (waiting for its next attempt); skipped.
    pub enum DeliveryStatus {
        Sending = "sending",
        Sent = "sent",
        Delivered = "delivered",
        Retry = "retry",
        Failed = "failed",
        Skipped = "skipped",
    }
}

vocab! {
    pub enum Channel {
        Email = "email",
        Sms = "sms",
        InApp = "inapp",
    }
}
