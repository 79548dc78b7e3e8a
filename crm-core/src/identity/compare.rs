//! Field comparisons: for each field, an ordered list of agreement levels (the most
//! similar first, `different` last) and the function that puts a pair of standardised
//! values at one of them. A field that is missing on either side has no level and gives
//! no evidence either way.
//!
//! Similarities are strsim's Jaro-Winkler and optimal-string-alignment (Damerau-Levenshtein
//! without repeated edits) distance, measures splink's comparison libraries use; "within
//! one edit" is checked in one pass.

use serde::{Deserialize, Serialize};
use strsim::{jaro_winkler, osa_distance};

use super::standardize::Standard;

/// A compared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MatchField {
    /// The name (tokens, order-free key, Jaro-Winkler).
    Name,
    /// The email address and the mailbox behind it.
    Email,
    /// The phone number.
    Phone,
    /// The date of birth.
    Birthday,
    /// Postal code, street and city.
    Address,
    /// The company without its legal form.
    Company,
}

/// Every field, in the order of a pattern.
pub const FIELDS: [MatchField; 6] = [
    MatchField::Name,
    MatchField::Email,
    MatchField::Phone,
    MatchField::Birthday,
    MatchField::Address,
    MatchField::Company,
];

impl MatchField {
    /// The field's position in [`FIELDS`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The field's name as in JSON (`"name"`, `"email"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MatchField::Name => "name",
            MatchField::Email => "email",
            MatchField::Phone => "phone",
            MatchField::Birthday => "birthday",
            MatchField::Address => "address",
            MatchField::Company => "company",
        }
    }

    /// The field's agreement levels, most similar first; the last is `different`.
    ///
    /// - name: `exact` (same tokens in the same order), `same_parts` (the same tokens in
    ///   another order or spacing, or Han characters against their pinyin), `similar`
    ///   (as many tokens, each within one edit or a Jaro-Winkler of 0.92 of its
    ///   counterpart), `partial` (each token of the shorter name has a counterpart at a
    ///   Jaro-Winkler of 0.8, or is its initial: a middle name left out, `J. Smith`),
    ///   `different`;
    /// - email: `exact`, `same_mailbox` (see
    ///   [`email_key`](super::standardize::email_key)), `same_local` (the same local part
    ///   at another domain), `similar` (the same domain and digits, local parts within two
    ///   edits, one for local parts under six characters), `different`;
    /// - phone: `exact`, `same_national` (the last 8 digits agree), `one_digit` (one digit
    ///   changed, added or lost, or two adjacent ones swapped), `different`;
    /// - birthday: `exact`, `typo` (day and month swapped, or one character of
    ///   `YYYY-MM-DD` changed), `different`;
    /// - address: `same_postcode_street` (same postal key and street: the same numbers and
    ///   a Jaro-Winkler of 0.9), `same_street_city` (same street and city, a postal code
    ///   missing or not compared), `same_postcode`, `same_city`, `different`;
    /// - company: `exact`, `similar` (Jaro-Winkler at least 0.9), `different`.
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            MatchField::Name => &["exact", "same_parts", "similar", "partial", "different"],
            MatchField::Email => &["exact", "same_mailbox", "same_local", "similar", "different"],
            MatchField::Phone => &["exact", "same_national", "one_digit", "different"],
            MatchField::Birthday => &["exact", "typo", "different"],
            MatchField::Address => {
                &["same_postcode_street", "same_street_city", "same_postcode", "same_city", "different"]
            }
            MatchField::Company => &["exact", "similar", "different"],
        }
    }

    /// The level index of a pair on this field (`None` when a side has no value).
    pub fn compare(self, a: &Standard, b: &Standard) -> Option<u8> {
        match self {
            MatchField::Name => name_level(a, b),
            MatchField::Email => email_level(a, b),
            MatchField::Phone => phone_level(a.phone()?, b.phone()?),
            MatchField::Birthday => birthday_level(a.birthday()?, b.birthday()?),
            MatchField::Address => address_level(a, b),
            MatchField::Company => {
                let (x, y) = (a.company()?, b.company()?);
                Some(if x == y {
                    0
                } else if jaro_winkler(x, y) >= 0.9 {
                    1
                } else {
                    2
                })
            }
        }
    }
}

/// Bits of one field in a [`Pattern`].
const BITS: u32 = 3;
/// The code of "no level" in a [`Pattern`].
const NULL: u32 = (1 << BITS) - 1;

/// A pair's levels on every field of [`FIELDS`], packed 3 bits a field (7 for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern(pub u32);

impl Pattern {
    /// The levels of `a` against `b` on the fields in `fields` (others have no level).
    pub fn of(a: &Standard, b: &Standard, fields: &[MatchField]) -> Pattern {
        let mut bits = 0u32;
        for (i, f) in FIELDS.iter().enumerate() {
            let level = if fields.contains(f) { f.compare(a, b).map_or(NULL, u32::from) } else { NULL };
            bits |= level << (BITS * i as u32);
        }
        Pattern(bits)
    }

    /// The level index of field number `i` of [`FIELDS`].
    pub fn level(self, i: usize) -> Option<u8> {
        let v = (self.0 >> (BITS * i as u32)) & NULL;
        (v != NULL).then_some(v as u8)
    }
}

/// The lowest similarity a name level tells apart: below it, how low does not matter.
const PARTIAL: f64 = 0.80;

/// An upper bound of the Jaro-Winkler similarity of two ASCII strings, without
/// allocating: Jaro's matching characters are at most the characters the two have in
/// common (as multisets), and Winkler's bonus at most four characters of common prefix.
fn jaro_winkler_bound(x: &[u8], y: &[u8]) -> f64 {
    let mut counts = [0i16; 128];
    for &c in x {
        counts[usize::from(c & 0x7f)] += 1;
    }
    let mut common = 0usize;
    for &c in y {
        let n = &mut counts[usize::from(c & 0x7f)];
        if *n > 0 {
            *n -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let m = common as f64;
    let jaro = (m / x.len() as f64 + m / y.len() as f64 + 1.0) / 3.0;
    let prefix = x.iter().zip(y).take(4).take_while(|(p, q)| p == q).count() as f64;
    jaro + prefix * 0.1 * (1.0 - jaro)
}

/// How alike two name tokens are, `0 ..= 1`: 1 when equal; 0.95 within one edit
/// (substitution, insertion, deletion or transposition) when both have three letters or
/// more; 0.85 when one is the other's initial; else their Jaro-Winkler. Below
/// [`PARTIAL`] it may return a bound instead (no level depends on how far below).
fn token_similarity(x: &str, y: &str) -> f64 {
    if x == y {
        return 1.0;
    }
    let (nx, ny) = (x.chars().count(), y.chars().count());
    if nx.min(ny) >= 3 && within_one_edit(x, y) {
        return 0.95;
    }
    if (nx == 1 && y.starts_with(x)) || (ny == 1 && x.starts_with(y)) {
        return 0.85;
    }
    if x.is_ascii() && y.is_ascii() {
        let bound = jaro_winkler_bound(x.as_bytes(), y.as_bytes());
        if bound < PARTIAL {
            return bound;
        }
    }
    jaro_winkler(x, y)
}

/// Up to 16 tokens of a name, and how many there are in all.
fn tokens(s: &Standard) -> ([&str; 16], usize) {
    let mut out = [""; 16];
    let mut n = 0;
    for t in s.name_tokens() {
        if let Some(slot) = out.get_mut(n) {
            *slot = t;
        }
        n += 1;
    }
    (out, n)
}

fn name_level(a: &Standard, b: &Standard) -> Option<u8> {
    if a.name().is_empty() || b.name().is_empty() {
        return None;
    }
    if a.name() == b.name() {
        return Some(0);
    }
    if a.name_key() == b.name_key() {
        return Some(1);
    }
    // Each token of the shorter name against its most alike unused token of the other,
    // in order of the shorter name's tokens; the worst of these decides.
    let ((ta, na), (tb, nb)) = (tokens(a), tokens(b));
    let ((short, ns), (long, nl)) = if na <= nb { ((ta, na), (tb, nb)) } else { ((tb, nb), (ta, na)) };
    let mut used = [false; 16];
    let mut worst = 1.0f64;
    for t in short.iter().take(ns.min(16)) {
        let best = long
            .iter()
            .take(nl.min(16))
            .enumerate()
            .filter(|(j, _)| !used[*j])
            .map(|(j, u)| (token_similarity(t, u), j))
            .max_by(|x, y| x.0.total_cmp(&y.0).then(y.1.cmp(&x.1)));
        let Some((sim, j)) = best else { break };
        used[j] = true;
        worst = worst.min(sim);
    }
    Some(if ns == nl && worst >= 0.92 {
        2
    } else if worst >= PARTIAL {
        3
    } else {
        4
    })
}

/// Whether `x` and `y` are at most one edit apart (a substitution, insertion, deletion, or
/// transposition of two adjacent characters), as `osa_distance(x, y) <= 1` says, in one
/// pass without allocating.
fn within_one_edit(x: &str, y: &str) -> bool {
    let common: usize = x.chars().zip(y.chars()).take_while(|(p, q)| p == q).map(|(p, _)| p.len_utf8()).sum();
    let (a, b) = (&x[common..], &y[common..]);
    let (mut ca, mut cb) = (a.chars(), b.chars());
    let (Some(p), Some(q)) = (ca.next(), cb.next()) else {
        // One is the other with at most one character added at the end.
        return a.chars().count() + b.chars().count() <= 1;
    };
    let (ra, rb) = (ca.as_str(), cb.as_str());
    let transposed = || {
        let (mut ta, mut tb) = (ra.chars(), rb.chars());
        ta.next() == Some(q) && tb.next() == Some(p) && ta.as_str() == tb.as_str()
    };
    ra == rb || ra == b || a == rb || transposed()
}

/// The ASCII digits of `s`.
fn digits(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().filter(char::is_ascii_digit)
}

fn email_level(a: &Standard, b: &Standard) -> Option<u8> {
    let (x, y) = (a.email()?, b.email()?);
    if x == y {
        return Some(0);
    }
    if a.email_key().is_some() && a.email_key() == b.email_key() {
        return Some(1);
    }
    let (Some((lx, dx)), Some((ly, dy))) = (x.rsplit_once('@'), y.rsplit_once('@')) else {
        return Some(4);
    };
    if lx == ly {
        return Some(2);
    }
    let edits = if lx.len().min(ly.len()) >= 6 { 2 } else { 1 };
    let similar = dx == dy && digits(lx).eq(digits(ly)) && osa_distance(lx, ly) <= edits;
    Some(if similar { 3 } else { 4 })
}

fn phone_level(x: &str, y: &str) -> Option<u8> {
    if x == y {
        return Some(0);
    }
    let tail = |p: &str| p.len().checked_sub(8).map(|i| p[i..].to_owned());
    if x.len() >= 8 && y.len() >= 8 && tail(x) == tail(y) {
        return Some(1);
    }
    Some(if within_one_edit(x, y) { 2 } else { 3 })
}

fn birthday_level(x: chrono::NaiveDate, y: chrono::NaiveDate) -> Option<u8> {
    use chrono::Datelike;
    if x == y {
        return Some(0);
    }
    let swapped = x.year() == y.year() && x.month() == y.day() && x.day() == y.month();
    // One character of YYYY-MM-DD changed (the digits of the year, month and day).
    let digits = |d: chrono::NaiveDate| {
        let (y, m, d) = (d.year(), d.month(), d.day());
        [
            y / 1000 % 10,
            y / 100 % 10,
            y / 10 % 10,
            y % 10,
            (m / 10) as i32,
            (m % 10) as i32,
            (d / 10) as i32,
            (d % 10) as i32,
        ]
    };
    let typo =
        x.year() >= 0 && y.year() >= 0 && digits(x).iter().zip(digits(y)).filter(|(p, q)| **p != *q).count() <= 1;
    Some(if swapped || typo { 1 } else { 2 })
}

/// Whether two street keys name the same place: equal, or the same numbers (house and
/// flat) and a Jaro-Winkler of at least 0.9.
fn same_street(x: &str, y: &str) -> bool {
    x == y || (digits(x).eq(digits(y)) && jaro_winkler(x, y) >= 0.9)
}

fn address_level(a: &Standard, b: &Standard) -> Option<u8> {
    let postal = match (a.postal(), b.postal()) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    };
    let city = match (a.city(), b.city()) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    };
    let street = match (a.street(), b.street()) {
        (Some(x), Some(y)) => same_street(x, y),
        _ => false,
    };
    match (postal, city) {
        (None, None) => None,
        (Some(true), _) => Some(if street { 0 } else { 2 }),
        (None, Some(true)) if street => Some(1),
        (_, Some(true)) => Some(3),
        _ => Some(4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::standardize::{name_tokens, Keys};

    fn person(name: &str) -> Standard {
        let name = name_tokens(name);
        let mut sorted = name.clone();
        sorted.sort();
        Standard::from(&Keys { name_key: sorted.concat(), name, ..Default::default() })
    }

    #[test]
    fn one_edit_is_the_optimal_string_alignment_distance_of_one() {
        let words =
            ["", "a", "ab", "ba", "abc", "acb", "abd", "abcd", "abdc", "bacd", "xbcd", "abcde", "zoë", "zeö", "zo"];
        for x in words {
            for y in words {
                assert_eq!(within_one_edit(x, y), osa_distance(x, y) <= 1, "{x:?} {y:?}");
            }
        }
    }

    #[test]
    fn the_jaro_winkler_bound_is_never_below_jaro_winkler() {
        let words = [
            "a",
            "ab",
            "ba",
            "abc",
            "cab",
            "martha",
            "marhta",
            "dwayne",
            "duane",
            "dixon",
            "dicksonx",
            "jones",
            "johnson",
            "wang",
            "wei",
            "xiuying",
            "oliver",
            "olivia",
            "smith",
            "smyth",
            "zzzz",
            "aaaaaaaab",
        ];
        for x in words {
            for y in words {
                let (b, jw) = (jaro_winkler_bound(x.as_bytes(), y.as_bytes()), jaro_winkler(x, y));
                assert!(b + 1e-12 >= jw, "{x} {y}: bound {b} < {jw}");
            }
        }
    }

    #[test]
    fn names_compare_by_tokens_order_and_pinyin() {
        let level = |a: &str, b: &str| MatchField::Name.compare(&person(a), &person(b));
        assert_eq!(level("Ada Lovelace", "ADA  LOVELACE"), Some(0));
        assert_eq!(level("Wei Wang", "王伟"), Some(1));
        assert_eq!(level("Lovelace Ada", "Ada Lovelace"), Some(1));
        assert_eq!(level("Ada Lovelace", "Ada Lovelcae"), Some(2));
        assert_eq!(level("Ada Lovelace", "Fda Lovelace"), Some(2));
        assert_eq!(level("Ada King Lovelace", "Ada Lovelace"), Some(3));
        assert_eq!(level("A. Lovelace", "Ada Lovelace"), Some(3));
        // One shared token is not enough.
        assert_eq!(level("Gabriel Bernard", "Gabriel Girard"), Some(4));
        assert_eq!(level("Ada Lovelace", "Grace Hopper"), Some(4));
        assert_eq!(level("", "Grace Hopper"), None);
    }

    #[test]
    fn phones_emails_birthdays_and_addresses_have_their_levels() {
        assert_eq!(phone_level("6591234567", "6591234567"), Some(0));
        assert_eq!(phone_level("6591234567", "4491234567"), Some(1));
        assert_eq!(phone_level("6591234567", "6591234568"), Some(2));
        assert_eq!(phone_level("6591234567", "6581234999"), Some(3));
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        assert_eq!(birthday_level(d("1990-03-04"), d("1990-04-03")), Some(1));
        assert_eq!(birthday_level(d("1990-03-04"), d("1991-03-04")), Some(1));
        assert_eq!(birthday_level(d("1990-03-04"), d("1985-11-20")), Some(2));
        let mail = |e: &str| {
            Standard::from(&Keys {
                email: Some(e.into()),
                email_key: crate::identity::standardize::email_key(e),
                ..Default::default()
            })
        };
        let level = |a: &str, b: &str| MatchField::Email.compare(&mail(a), &mail(b));
        assert_eq!(level("a.b@gmail.com", "ab@gmail.com"), Some(1));
        assert_eq!(level("ada.king@example.com", "ada.king@other.org"), Some(2));
        assert_eq!(level("ada@example.com", "adda@example.com"), Some(3));
        assert_eq!(level("ada.king@example.com", "ada.kign@example.com"), Some(3));
        // Numbers in the local part tell people of one name apart.
        assert_eq!(level("ada.king1815@example.com", "ada.king1852@example.com"), Some(4));
        assert_eq!(level("ada@example.com", "adda@other.org"), Some(4));
        assert_eq!(level("ada@example.com", "grace@other.org"), Some(4));
        let at = |postal: Option<&str>, street: Option<&str>, city: Option<&str>| {
            Standard::from(&Keys {
                postal: postal.map(str::to_owned),
                street: street.map(str::to_owned),
                city: city.map(str::to_owned),
                ..Default::default()
            })
        };
        let level = |a: &Standard, b: &Standard| MatchField::Address.compare(a, b);
        let home = at(Some("SG:1"), Some("1 main street"), Some("singapore"));
        assert_eq!(level(&home, &at(Some("SG:1"), Some("1 main street"), None)), Some(0));
        assert_eq!(level(&home, &at(Some("SG:1"), Some("1 mian street"), None)), Some(0));
        assert_eq!(level(&home, &at(None, Some("1 main street"), Some("singapore"))), Some(1));
        // Another house in the same street is another address.
        assert_eq!(level(&home, &at(Some("SG:1"), Some("7 main street"), None)), Some(2));
        assert_eq!(level(&home, &at(Some("SG:1"), None, None)), Some(2));
        assert_eq!(level(&home, &at(None, None, Some("singapore"))), Some(3));
        assert_eq!(level(&home, &at(Some("SG:2"), None, Some("jurong"))), Some(4));
        assert_eq!(level(&home, &at(None, Some("1 main street"), None)), None);
    }

    #[test]
    fn a_pattern_packs_every_level_and_none() {
        let a = person("Ada Lovelace");
        let b = person("Ada Lovelace");
        let p = Pattern::of(&a, &b, &FIELDS);
        assert_eq!(p.level(0), Some(0));
        assert!((1..6).all(|i| p.level(i).is_none()));
        let only_email = Pattern::of(&a, &b, &[MatchField::Email]);
        assert_eq!(only_email.level(0), None);
    }
}
