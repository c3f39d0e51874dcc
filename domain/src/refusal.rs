//! Why the store turned a change down. Rules checked inside a transaction
//! (SurrealQL `THROW 'code: message'`) come back as one of these, read in
//! one place in the store, so callers match variants, never text.

/// A refused change: nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The lesson changed since the change was planned; plan again.
    #[error("the lesson changed meanwhile")]
    StaleVersion,
    /// The notification job is no longer pending (sent, withdrawn, …).
    #[error("the job is no longer pending")]
    JobGone,
    /// The tutor is not approved, so takes no bookings.
    #[error("this tutor is not taking bookings")]
    TutorNotBooking,
    /// The tutor needs a valid DBS to be booked and has none.
    #[error("{}", .0.explain())]
    DbsNotValid(crate::documents::DbsGap),
    /// A booking asked to spend makeup credits the family does not have.
    #[error("the family has no unused makeup credit for this booking")]
    NoCredit,
    /// A booking asked to spend package lessons the family does not have
    /// (none left of the lesson's length, or all expired).
    #[error("the family has no package lesson left of this length")]
    NoPackage,
    /// Only a message's author may edit or delete it.
    #[error("only the author may change a message")]
    NotAuthor,
    #[error("the message was deleted")]
    MessageDeleted,
    /// Any other rule, with the words written next to it in the store.
    #[error("{0}")]
    Other(String),
}
