//! Bulk ingest.
