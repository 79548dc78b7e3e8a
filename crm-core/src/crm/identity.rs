//! Identity resolution through the facade: [`identity`](crate::identity) over the store.

use crate::crm::Crm;
use crate::customer::CustomerId;
use crate::error::Result;
use crate::identity::{find_duplicates_in, in_parallel, DuplicateReport, MatchSettings, Standard};
use crate::store::prelude::*;

/// Customers read per page while loading.
const PAGE: usize = 10_000;

impl<S: Store> Crm<S> {
    /// Finds the customers that are likely one person or company, entered more than once:
    /// candidate pairs by blocking, a Fellegi-Sunter score for each (the model estimated
    /// from the data, or the settings' own), the pairs at or above the threshold with their
    /// per-field evidence, and their clusters (see [`identity`](crate::identity)). Reads
    /// every customer not merged away in one read transaction and writes nothing.
    ///
    /// Errors: [`Error::Validation`](crate::Error::Validation) for a setting out of bounds
    /// (`threshold`, `max_block_size`, `max_iterations`, `u_pairs`) or a bad model
    /// (`model.prior`, `model.fields[i].levels[j].m`, ...), before anything is read.
    ///
    /// ```
    /// use crm_core::identity::MatchSettings;
    /// use crm_core::{Crm, NewCustomer};
    /// let crm = Crm::in_memory()?;
    /// let person = |name: &str, email: &str, phone: &str| NewCustomer {
    ///     name: name.into(), email: Some(email.into()), phone: Some(phone.into()), ..Default::default() };
    /// let ada = crm.create_customer(&person("Ada Lovelace", "ada@example.com", "+44 20 7946 0018"))?;
    /// let again = crm.create_customer(&person("LOVELACE, Ada", "Ada@Example.com", "+44 20 7946 0018"))?;
    /// for i in 0..50 {
    ///     crm.create_customer(&person(&format!("Person {i}"), &format!("p{i}@example.org"), &format!("+44 20 7946 {:04}", 100 + i)))?;
    /// }
    /// let report = crm.find_duplicates(&MatchSettings::default())?;
    /// assert_eq!(report.clusters, vec![vec![ada.id, again.id]]);
    /// assert_eq!(report.pairs[0].evidence[1].level, Some("exact"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn find_duplicates(&self, settings: &MatchSettings) -> Result<DuplicateReport> {
        settings.validate()?;
        let (ids, records) = self.store.read(|tx| {
            let mut ids: Vec<CustomerId> = Vec::new();
            let mut records: Vec<Standard> = Vec::new();
            let mut after = CustomerId(0);
            loop {
                let page = tx.identity_fields(after, PAGE)?;
                let Some(last) = page.last() else { break };
                after = last.id;
                ids.extend(page.iter().map(|c| c.id));
                for part in in_parallel(&page, 1024, |part| part.iter().map(Standard::of_fields).collect::<Vec<_>>()) {
                    records.extend(part);
                }
                if page.len() < PAGE {
                    break;
                }
            }
            Ok((ids, records))
        })?;
        Ok(find_duplicates_in(&ids, &records, settings))
    }
}
