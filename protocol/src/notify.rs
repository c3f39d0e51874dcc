//! Notification wire types: `notification` on `user:<id>` (a booking
//! notice or reminder, also kept for `GET /api/v1/notifications`) and
//! `notification:failed` on `admin:monitor` (a message that could not be
//! delivered after every retry).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    pub id: String,
    /// reminder, booked, cancelled or rescheduled.
    pub kind: String,
    pub text: String,
    #[serde(default)]
    pub occurrence_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedDelivery {
    /// email or sms.
    pub channel: String,
    pub user_id: String,
    pub error: String,
}

/// The payload of `notification:failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFailed {
    pub job_id: String,
    pub kind: String,
    /// The lesson the job was about; absent for a job about a document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence_id: Option<String>,
    /// The document a DBS reminder was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    pub failures: Vec<FailedDelivery>,
}
