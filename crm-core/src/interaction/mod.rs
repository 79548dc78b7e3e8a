//! Interactions: calls, emails, meetings, chats, visits, notes, feedback, complaints,
//! survey answers, web events and custom kinds, each tied to one customer.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::CustomerId;

mod store;

pub use store::{InteractionStore, InteractionStoreMut};

/// Store-assigned interaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InteractionId(pub i64);

impl fmt::Display for InteractionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What kind of contact this was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// Phone call.
    Call,
    /// Email.
    Email,
    /// Meeting.
    Meeting,
    /// Chat or messaging.
    Chat,
    /// Store or site visit.
    Visit,
    /// Internal note.
    Note,
    /// Feedback given by the customer.
    Feedback,
    /// Complaint.
    Complaint,
    /// Survey answer (usually with a score).
    Survey,
    /// Web or app event.
    Web,
    /// Anything else; describe it in `subject` or `payload`.
    Custom,
}

impl InteractionKind {
    /// Every kind, in declaration order.
    pub const ALL: [InteractionKind; 11] = [
        InteractionKind::Call,
        InteractionKind::Email,
        InteractionKind::Meeting,
        InteractionKind::Chat,
        InteractionKind::Visit,
        InteractionKind::Note,
        InteractionKind::Feedback,
        InteractionKind::Complaint,
        InteractionKind::Survey,
        InteractionKind::Web,
        InteractionKind::Custom,
    ];
}

/// Who started the interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer reached out.
    Inbound,
    /// The business reached out.
    Outbound,
}

/// A satisfaction score attached to an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Score {
    /// Customer satisfaction, 1 to 5.
    Csat(u8),
    /// Net promoter score answer, 0 to 10.
    Nps(u8),
}

/// A stored interaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// Store-assigned id.
    pub id: InteractionId,
    /// The host's key, unique when present.
    pub external_id: Option<String>,
    /// The customer.
    pub customer_id: CustomerId,
    /// Kind of contact.
    pub kind: InteractionKind,
    /// Channel (`"phone"`, `"web"`, `"store"`, ...).
    pub channel: Option<String>,
    /// Who started it.
    pub direction: Option<Direction>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Short subject line.
    pub subject: Option<String>,
    /// Body text.
    pub body: Option<String>,
    /// Satisfaction score.
    pub score: Option<Score>,
    /// Any JSON payload.
    pub payload: Option<serde_json::Value>,
    /// When the record was stored.
    pub created_at: DateTime<Utc>,
}

/// Input for recording an interaction. The customer is named by store id or by external id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewInteraction {
    /// The host's key; recording twice with the same key stores one interaction.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The customer by store id.
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    /// The customer by external id.
    #[serde(default)]
    pub customer_external_id: Option<String>,
    /// Kind of contact.
    pub kind: InteractionKind,
    /// Channel.
    #[serde(default)]
    pub channel: Option<String>,
    /// Direction.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Body.
    #[serde(default)]
    pub body: Option<String>,
    /// Score.
    #[serde(default)]
    pub score: Option<Score>,
    /// JSON payload.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
}
