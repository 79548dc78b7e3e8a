//! The configuration port: the documents a host configures once and the library keeps
//! (lifecycle rules, value tiers, the RFM model, the loyalty program), each stored as JSON
//! under a typed key, instead of one getter and setter per document.

use chrono::{DateTime, Utc};

use crate::error::Result;

/// A stored configuration document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigKey {
    /// The lifecycle rules ([`LifecycleRules`](crate::segment::LifecycleRules)).
    LifecycleRules,
    /// The value tiers ([`TierConfig`](crate::segment::TierConfig)).
    ValueTiers,
    /// The fitted RFM model ([`RfmModel`](crate::segment::RfmModel)).
    RfmModel,
    /// The loyalty program ([`Program`](crate::loyalty::Program)).
    LoyaltyProgram,
    /// The model incremental matching scores with ([`MatchModel`](crate::identity::MatchModel)).
    MatchModel,
    /// What customer writes do with likely duplicates ([`MatchPolicy`](crate::identity::MatchPolicy)).
    MatchPolicy,
    /// `"built"` once the match keys are computed and kept by every customer write (absent
    /// until matching is first used).
    MatchKeys,
}

impl ConfigKey {
    /// The key's name, used as the field of an error about the stored document.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKey::LifecycleRules => "lifecycle_rules",
            ConfigKey::ValueTiers => "tier_config",
            ConfigKey::RfmModel => "rfm_model",
            ConfigKey::LoyaltyProgram => "loyalty_program",
            ConfigKey::MatchModel => "match_model",
            ConfigKey::MatchPolicy => "match_policy",
            ConfigKey::MatchKeys => "match_keys",
        }
    }
}

/// The configuration port: what the domain reads.
pub trait ConfigStore {
    /// The stored document of `key` (JSON), if one was stored.
    fn config(&mut self, key: ConfigKey) -> Result<Option<String>>;
}

/// The configuration port: what the domain writes. Only a write transaction has it.
pub trait ConfigStoreMut: ConfigStore {
    /// Stores the document of `key` (JSON) at `at`, replacing the previous one.
    fn put_config(&mut self, key: ConfigKey, json: &str, at: DateTime<Utc>) -> Result<()>;
}
