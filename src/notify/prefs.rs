//! A user's notification switches: per channel, per kind. Stored on the
//! user as given; a user who never set them gets the defaults below, which
//! are what most families want: every email, and texts for reminders and
//! cancellations (the two a parent acts on at short notice).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jobs::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Switches {
    pub reminder: bool,
    pub booked: bool,
    pub cancelled: bool,
    pub rescheduled: bool,
}

impl Switches {
    pub fn on(&self, kind: Kind) -> bool {
        match kind {
            Kind::Reminder => self.reminder,
            Kind::Booked => self.booked,
            // A tutor's no-show is a lesson lost, like a cancellation:
            // the same switch, so the API keeps its four.
            Kind::Cancelled | Kind::NoShow => self.cancelled,
            Kind::Rescheduled => self.rescheduled,
            // A lapsing DBS stops the tutor's bookings: always told.
            Kind::DbsExpiry => true,
            // Homework notices follow the reminder switch: they are
            // reminders of something to do.
            Kind::HomeworkSet
            | Kind::HomeworkDue
            | Kind::HomeworkOverdue
            | Kind::HomeworkGraded => self.reminder,
            // Money taken, or waiting on the parent: always told.
            Kind::PaymentReceipt
            | Kind::PaymentAction
            | Kind::PaymentFailed
            | Kind::PayoutStatement
            | Kind::FamilyStatement => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prefs {
    pub email: Switches,
    /// Needs a phone number on file; a STOP text turns all of it off.
    pub sms: Switches,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            email: Switches {
                reminder: true,
                booked: true,
                cancelled: true,
                rescheduled: true,
            },
            sms: Switches {
                reminder: true,
                booked: false,
                cancelled: true,
                rescheduled: false,
            },
        }
    }
}

impl Prefs {
    /// The stored switches, or the defaults when none (or an unreadable
    /// older shape) are stored.
    pub fn from_stored(v: Option<&Value>) -> Self {
        v.and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }
}
