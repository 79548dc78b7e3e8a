//! Phone-number metadata owned by the validators instead of held in a static.
//!
//! The phonenumber crate builds libphonenumber's metadata (about 1.9 MB of tables and regex
//! caches) into a process-wide `Lazy` static that is never dropped, and a host checking its
//! program with `valgrind --leak-check=full --error-exitcode=1` sees all of it as "possibly
//! lost" (hash tables are reached only through interior pointers) and fails. Here the
//! metadata is a value: built from the same XML on the first phone number a handle
//! validates, shared by every handle alive (one copy, one regex cache), and freed when the
//! last of them closes. Only the crate's `*_with` functions, which take the database, are
//! called; its own static is never touched (a test below compares the two, so that a new
//! crate version with newer metadata is noticed).

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use phonenumber::country::Id;
use phonenumber::metadata::Database;

/// libphonenumber's `PhoneNumberMetadata.xml`, the copy the phonenumber crate in Cargo.lock
/// builds its static from (the crate offers no other way to build a database of its own).
const METADATA_XML: &str = include_str!("../../assets/PhoneNumberMetadata.xml");

/// The database every live handle shares; empty when none holds it.
static SHARED: Mutex<Weak<Database>> = Mutex::new(Weak::new());

/// A validator's handle on the shared metadata, built on first use; or, for a validation
/// lane, on metadata of its own.
#[derive(Default)]
pub(crate) struct Phones {
    db: OnceLock<Arc<Database>>,
    /// Whether the metadata is this handle's own (see [`Phones::own`]).
    own: bool,
}

impl Clone for Phones {
    /// The shared metadata is shared by the copy; metadata of its own is not (the copy
    /// builds its own on first use).
    fn clone(&self) -> Phones {
        match self.own {
            true => Phones::own(),
            false => Phones { db: self.db.clone(), own: false },
        }
    }
}

impl std::fmt::Debug for Phones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phones").field("loaded", &self.db.get().is_some()).field("own", &self.own).finish()
    }
}

impl Phones {
    /// A handle on metadata of its own, built on its first phone number (about 60 ms and
    /// 2 MB) and freed with it: for validating on another thread at the same time. The
    /// crate's regex cache is one per database, behind a lock held while a regex runs, so
    /// threads sharing a database validate phone numbers one at a time.
    pub(crate) fn own() -> Phones {
        Phones { db: OnceLock::new(), own: true }
    }

    fn db(&self) -> &Database {
        self.db.get_or_init(|| if self.own { Arc::new(build()) } else { shared() })
    }

    /// `text` as E.164 (`+14155550123`) when it is a valid number, read in `region` when it
    /// has no `+` country code; `None` when it is not a valid number.
    pub(crate) fn e164(&self, region: Option<Id>, text: &str) -> Option<String> {
        let db = self.db();
        let parsed = phonenumber::parse_with(db, region, text).ok()?;
        if !phonenumber::is_valid_with(db, &parsed) {
            return None;
        }
        // What the crate's E.164 formatter writes; its `Display` reaches for the static
        // database even when given one, so the two parts are joined here.
        Some(format!("+{}{}", parsed.country().code(), parsed.national()))
    }
}

/// The live shared database, or a new one when no handle holds it. Built under the lock, so
/// that handles opened together build it once.
fn shared() -> Arc<Database> {
    share(&SHARED)
}

fn share(slot: &Mutex<Weak<Database>>) -> Arc<Database> {
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(db) = slot.upgrade() {
        return db;
    }
    let db = Arc::new(build());
    *slot = Arc::downgrade(&db);
    db
}

/// The metadata, parsed from the bundled XML, with a regex cache that holds every region's
/// patterns.
fn build() -> Database {
    // The XML is compiled in and a unit test parses it: a failure here is a build defect.
    let db = Database::parse(METADATA_XML).expect("the bundled phone metadata parses");
    enlarge_regex_cache(&db);
    db
}

/// phonenumber compiles its metadata's regular expressions lazily into one LRU cache of 100
/// entries per database. Validating numbers from more than a handful of countries needs more
/// than that, and the cache then thrashes: recompiling regexes took 60% of bulk customer
/// ingest. A cache of 2,000 holds every region's patterns a host is likely to see while
/// still bounding memory.
fn enlarge_regex_cache(db: &Database) {
    let cache = db.cache();
    let mut guard = cache.lock().unwrap_or_else(PoisonError::into_inner);
    *guard = regex_cache::RegexCache::new(2_000);
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
    use phonenumber::Type;

    use super::*;

    /// Everything the parser and validator read from one region's metadata, as text.
    fn fingerprint(m: &Metadata) -> String {
        let mut s = String::new();
        let re = |r: Option<&regex_cache::CachedRegex>| r.map(|r| r.as_str().to_owned());
        let _ = write!(
            s,
            "{} {} {:?} {:?} {:?} {:?} {:?} {:?} {}",
            m.id(),
            m.country_code(),
            re(m.international_prefix()),
            m.preferred_international_prefix(),
            m.national_prefix(),
            re(m.national_prefix_for_parsing()),
            m.national_prefix_transform_rule(),
            re(m.leading_digits()),
            m.is_main_country_for_code(),
        );
        for f in m.formats().iter().chain(m.international_formats()) {
            let leading: Vec<_> = f.leading_digits().iter().map(|r| r.as_str()).collect();
            let _ = write!(s, " [{} {} {leading:?} {:?}]", f.pattern().as_str(), f.format(), f.national_prefix());
        }
        let d = m.descriptors();
        let desc = |d: Option<&Descriptor>| {
            d.map(|d| {
                (d.national_number().as_str().to_owned(), d.possible_length().to_vec(), d.example().map(str::to_owned))
            })
        };
        let _ = write!(s, " {:?}", desc(Some(d.general())));
        for kind in [Type::FixedLine, Type::Mobile, Type::TollFree, Type::PremiumRate, Type::SharedCost, Type::Voip] {
            let _ = write!(s, " {:?}", desc(d.get(kind)));
        }
        s
    }

    fn all(db: &Database) -> Vec<String> {
        let mut v: Vec<_> = db.iter().map(fingerprint).collect();
        v.sort();
        v
    }

    #[test]
    fn bundled_metadata_is_the_crates() {
        let ours = shared();
        let theirs = all(&DATABASE);
        assert!(theirs.len() > 200, "{} regions", theirs.len());
        assert_eq!(
            all(&ours),
            theirs,
            "assets/PhoneNumberMetadata.xml differs from the phonenumber crate's metadata: copy the \
             crate's assets/PhoneNumberMetadata.xml over it"
        );
    }

    #[test]
    fn numbers_read_as_the_crate_reads_them() {
        let phones = Phones::default();
        for (region, text) in [
            (None, "+1 (415) 555-2671"),
            (None, "+44 20 7946 0958"),
            (Some(Id::SG), "9123 4567"),
            (Some(Id::DE), "030 901820"),
            (Some(Id::IT), "02 1234 5678"),
            (None, "+1 123"),
            (None, "not a number"),
        ] {
            let theirs = phonenumber::parse(region, text)
                .ok()
                .filter(phonenumber::is_valid)
                .map(|p| p.format().mode(phonenumber::Mode::E164).to_string());
            assert_eq!(phones.e164(region, text), theirs, "{text}");
        }
    }

    #[test]
    fn handles_share_one_database_and_the_last_frees_it() {
        let slot = Mutex::new(Weak::new());
        let a = share(&slot);
        let b = share(&slot);
        assert!(Arc::ptr_eq(&a, &b));
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_none(), "the phone database outlived its handles");
        assert!(slot.lock().unwrap().upgrade().is_none());
        let c = share(&slot);
        assert!(c.by_id("SG").is_some(), "built again on the next use");
    }

    #[test]
    fn a_validator_builds_it_on_its_first_phone_only() {
        let phones = Phones::default();
        assert!(phones.db.get().is_none());
        let copy = phones.clone();
        assert!(phones.e164(None, "+14155552671").is_some());
        assert!(phones.db.get().is_some() && copy.db.get().is_none());
    }

    #[test]
    fn a_lane_has_metadata_of_its_own_and_reads_numbers_alike() {
        let (shared, lane) = (Phones::default(), Phones::own());
        for text in ["+1 (415) 555-2671", "+44 20 7946 0958", "+1 123"] {
            assert_eq!(lane.e164(None, text), shared.e164(None, text), "{text}");
        }
        assert!(!Arc::ptr_eq(lane.db.get().unwrap(), shared.db.get().unwrap()));
        let copy = lane.clone();
        assert!(copy.db.get().is_none(), "a copy of a lane builds its own");
    }
}
