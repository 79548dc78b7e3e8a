//! The configuration port on PostgreSQL: the lifecycle rules and value tiers in `settings`,
//! the RFM model and the loyalty program in tables of their own (as schema versions made
//! them, as on SQLite).

use chrono::{DateTime, Utc};

use super::*;
use crate::config::{ConfigKey, ConfigStore, ConfigStoreMut};

impl<M: Mode> ConfigStore for PgTx<'_, M> {
    fn config(&mut self, key: ConfigKey) -> Result<Option<String>> {
        let r = match key {
            ConfigKey::LifecycleRules
            | ConfigKey::ValueTiers
            | ConfigKey::MatchModel
            | ConfigKey::MatchPolicy
            | ConfigKey::MatchKeys => self.query_opt("SELECT value FROM settings WHERE key = $1", &[&key.as_str()])?,
            ConfigKey::RfmModel => self.query_opt("SELECT model FROM rfm_model WHERE id = 1", &[])?,
            ConfigKey::LoyaltyProgram => self.query_opt("SELECT config FROM loyalty_programs WHERE id = 1", &[])?,
        };
        r.map(|r| col(&r, 0)).transpose()
    }
}

impl ConfigStoreMut for PgTx<'_, Writing> {
    fn put_config(&mut self, key: ConfigKey, json: &str, at: DateTime<Utc>) -> Result<()> {
        self.lock_global()?;
        match key {
            ConfigKey::LifecycleRules
            | ConfigKey::ValueTiers
            | ConfigKey::MatchModel
            | ConfigKey::MatchPolicy
            | ConfigKey::MatchKeys => self.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&key.as_str(), &json],
            )?,
            ConfigKey::RfmModel => self.execute(
                "INSERT INTO rfm_model (id, model, computed_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET model = EXCLUDED.model, computed_at = EXCLUDED.computed_at",
                &[&json, &micros(at)],
            )?,
            ConfigKey::LoyaltyProgram => self.execute(
                "INSERT INTO loyalty_programs (id, config, updated_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET config = EXCLUDED.config, updated_at = EXCLUDED.updated_at",
                &[&json, &micros(at)],
            )?,
        };
        Ok(())
    }
}
