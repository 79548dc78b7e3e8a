//! The configuration port on SQLite: the lifecycle rules and value tiers in `settings`, the
//! RFM model and the loyalty program in tables of their own (as schema versions made them).

use super::*;
use crate::config::{ConfigKey, ConfigStore, ConfigStoreMut};

impl<M> ConfigStore for SqliteTx<'_, M> {
    fn config(&mut self, key: ConfigKey) -> Result<Option<String>> {
        match key {
            ConfigKey::LifecycleRules
            | ConfigKey::ValueTiers
            | ConfigKey::MatchModel
            | ConfigKey::MatchPolicy
            | ConfigKey::MatchKeys => segments::get_setting(&self.tx, key.as_str()),
            ConfigKey::RfmModel => rfm::get_model(&self.tx),
            ConfigKey::LoyaltyProgram => loyalty::get_program(&self.tx),
        }
    }
}

impl ConfigStoreMut for SqliteTx<'_, Writing> {
    fn put_config(&mut self, key: ConfigKey, json: &str, at: DateTime<Utc>) -> Result<()> {
        match key {
            ConfigKey::LifecycleRules
            | ConfigKey::ValueTiers
            | ConfigKey::MatchModel
            | ConfigKey::MatchPolicy
            | ConfigKey::MatchKeys => segments::put_setting(&self.tx, key.as_str(), json),
            ConfigKey::RfmModel => rfm::put_model(&self.tx, json, at),
            ConfigKey::LoyaltyProgram => loyalty::put_program(&self.tx, json, at),
        }
    }
}
