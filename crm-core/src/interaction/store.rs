//! The interaction port: how the domain reads and writes interactions in a store.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::customer::CustomerId;
use crate::error::{Error, Result};
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

    // Bulk methods, for ingest batches: each default does the single-record method once per
    // record; a store where a statement costs a round trip overrides them with set-based ones.

    /// The ids of the stored interactions with these external ids, by external id (as a
    /// writer reads them: on a store whose writers run side by side, no other writer runs
    /// beside this transaction from then on).
    fn interaction_ids_by_external_ids(&mut self, external_ids: &[&str]) -> Result<HashMap<String, InteractionId>> {
        let mut found = HashMap::with_capacity(external_ids.len());
        for ext in external_ids {
            if let Some(id) = self.interaction_id_by_external_id(ext)? {
                found.insert((*ext).to_owned(), id);
            }
        }
        Ok(found)
    }
    /// Stores new interactions, in order, and sets their ids. None of their external ids
    /// may be stored (the caller looked them up in this transaction): one that is fails
    /// the call.
    fn insert_new_interactions(&mut self, interactions: &mut [Interaction]) -> Result<()> {
        for i in interactions {
            i.id = self.insert_interaction(i)?.ok_or_else(|| {
                Error::Conflict(format!("an interaction with external_id {:?} exists", i.external_id))
            })?;
        }
        Ok(())
    }
}
