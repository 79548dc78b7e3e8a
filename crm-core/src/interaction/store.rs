//! The interaction port: how the domain reads and writes interactions in a store.

use chrono::{DateTime, Utc};

use crate::customer::CustomerId;
use crate::error::Result;
use crate::interaction::{Interaction, InteractionId};

/// The storage port of interaction records: what the domain reads. Each store implements
/// it (in its own file); a read transaction has it, so does a write transaction.
pub trait InteractionStore {
    /// Resolves an interaction's external id to its store id.
    fn interaction_id_by_external_id(&mut self, external_id: &str) -> Result<Option<InteractionId>>;
    /// Reads an interaction.
    fn get_interaction(&mut self, id: InteractionId) -> Result<Option<Interaction>>;
    /// Reads an interaction by external id.
    fn interaction_by_external_id(&mut self, external_id: &str) -> Result<Option<Interaction>>;
    /// Ids of a customer's interactions.
    fn interaction_ids_of(&mut self, customer: CustomerId) -> Result<Vec<InteractionId>>;
    /// Number of interactions.
    fn count_interactions(&mut self) -> Result<i64>;
    /// Number of a customer's interactions and the latest time.
    fn aggregate_interactions(&mut self, customer: CustomerId) -> Result<(i64, Option<DateTime<Utc>>)>;
    /// A customer's interactions (at or after `since`), oldest first.
    fn interactions_of(&mut self, customer: CustomerId, since: Option<DateTime<Utc>>) -> Result<Vec<Interaction>>;
}

/// The storage port of interaction records: what the domain writes. Only a write
/// transaction has it.
pub trait InteractionStoreMut: InteractionStore {
    /// Stores an interaction; `None` (and nothing written) when its external id is taken.
    fn insert_interaction(&mut self, i: &Interaction) -> Result<Option<InteractionId>>;
    /// Overwrites a stored interaction.
    fn update_interaction(&mut self, i: &Interaction) -> Result<()>;
    /// Removes an interaction.
    fn delete_interaction(&mut self, id: InteractionId) -> Result<()>;
}
