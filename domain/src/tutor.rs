//! A tutor's standing with the platform.

use crate::vocab::vocab;

vocab! {
    /// Only `approved` tutors appear in search and take bookings.
    pub enum TutorStatus {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        Suspended = "suspended",
    }
}
