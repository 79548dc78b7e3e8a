//! Segmentation: saved segments (dynamic rules or static lists) with membership snapshots,
//! RFM scores, value tiers, lifecycle stages and scoring plans, all written in the
//! [rule language](crate::rule).

pub mod rfm;
