//! Labelled duplicates: perturbed copies of generated customers, as other systems (a shop's
//! till, a call centre) record the same people, so that identity resolution can be scored
//! against a known truth. What a copy may change is listed on [`Synth::duplicate`].

use std::fmt::Write as _;

use chrono::Datelike;
use rand_chacha::ChaCha8Rng;

use super::data::{self, PhoneStyle, COUNTRIES, EMAIL_DOMAINS, HAN, LEGAL_FORMS, NICKNAMES, STREET_ABBREVIATIONS};
use super::{below, below64, chance, pick, pick_weighted, stream, ts, Origin, Synth, DUPLICATES};
use crate::NewCustomer;

/// One change a duplicate makes to its original. Tests read them to check that each occurs
/// and does what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Change {
    NameTypo,
    NameSwapped,
    Nickname,
    HanName,
    FullWidth,
    UpperCase,
    EmailDomain,
    EmailTypo,
    EmailDots,
    EmailTag,
    EmailUpperCase,
    EmailDropped,
    PhoneNational,
    PhoneSeparators,
    PhoneDigit,
    PhoneDropped,
    StreetAbbreviated,
    PostalCodeDropped,
    BirthdayDropped,
    BirthdaySwapped,
    LegalFormChanged,
    LegalFormDropped,
}

#[cfg(test)]
impl Change {
    pub(super) const ALL: [Change; 22] = [
        Change::NameTypo,
        Change::NameSwapped,
        Change::Nickname,
        Change::HanName,
        Change::FullWidth,
        Change::UpperCase,
        Change::EmailDomain,
        Change::EmailTypo,
        Change::EmailDots,
        Change::EmailTag,
        Change::EmailUpperCase,
        Change::EmailDropped,
        Change::PhoneNational,
        Change::PhoneSeparators,
        Change::PhoneDigit,
        Change::PhoneDropped,
        Change::StreetAbbreviated,
        Change::PostalCodeDropped,
        Change::BirthdayDropped,
        Change::BirthdaySwapped,
        Change::LegalFormChanged,
        Change::LegalFormDropped,
    ];
}

/// The parts of a record a copy may change, at most one change each, with their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Name,
    Email,
    Phone,
    Address,
    Birthday,
    Company,
}

const PARTS: [(Part, u32); 6] = [
    (Part::Name, 30),
    (Part::Email, 22),
    (Part::Phone, 20),
    (Part::Address, 10),
    (Part::Birthday, 8),
    (Part::Company, 10),
];

/// How many changes a copy has: one, two or three.
const CHANGES: [u32; 3] = [50, 35, 15];

impl Synth {
    /// Duplicate `k` and the changes it made to its original, in the order made.
    pub(super) fn perturbed(&self, k: u64) -> (NewCustomer, Vec<Change>) {
        let (n, run) = self.source_and_run(k);
        let (mut c, origin) = self.profile(n);
        let r = &mut stream(&self.keys[DUPLICATES], k);
        let original = c.external_id.take().expect("generated customers have external ids");
        c.external_id = Some(format!("{original}~{}", run + 1));
        c.created_at = Some(ts(self.start + below64(r, (self.end - self.start) as u64) as i64));

        let mut parts: Vec<(Part, u32)> = PARTS.iter().copied().filter(|&(p, _)| applies(p, &c)).collect();
        let wanted = 1 + pick_weighted(r, &CHANGES, |w| *w);
        let mut chosen = Vec::with_capacity(wanted);
        while chosen.len() < wanted && !parts.is_empty() {
            chosen.push(parts.remove(pick_weighted(r, &parts, |p| p.1)).0);
        }
        // The company first: a company's name is its company name, and a change of the name
        // then applies to the respelled one.
        chosen.sort_by_key(|&p| p != Part::Company);
        let mut changes = Vec::with_capacity(wanted);
        for part in chosen {
            changes.push(match part {
                Part::Name => name(r, &mut c, &origin),
                Part::Email => email(r, &mut c),
                Part::Phone => phone(r, &mut c, &origin),
                Part::Address => address(r, &mut c),
                Part::Birthday => birthday(r, &mut c),
                Part::Company => company(r, &mut c, &origin),
            });
        }

        // Fields another system often does not have.
        if chance(r, 300) {
            c.title = None;
        }
        if chance(r, 400) {
            c.gender = None;
        }
        if chance(r, 500) {
            c.tags.clear();
        }
        if chance(r, 500) {
            c.attributes.clear();
        }
        if chance(r, 500) {
            c.consents.clear();
        }
        (c, changes)
    }
}

/// Whether a copy can change `part` of `c`. The name always can.
fn applies(part: Part, c: &NewCustomer) -> bool {
    match part {
        Part::Name => true,
        Part::Email => c.email.is_some(),
        Part::Phone => c.phone.is_some(),
        Part::Address => c.address.postal_code.is_some() || c.address.street.as_deref().is_some_and(abbreviates),
        Part::Birthday => c.birthday.is_some(),
        Part::Company => c.company.as_deref().and_then(legal_form).is_some(),
    }
}

/// Picks one of the changes whose condition holds, by weight.
fn choose(r: &mut ChaCha8Rng, options: &[(Change, u32, bool)]) -> Change {
    let open: Vec<(Change, u32)> = options.iter().filter(|o| o.2).map(|o| (o.0, o.1)).collect();
    open[pick_weighted(r, &open, |o| o.1)].0
}

fn name(r: &mut ChaCha8Rng, c: &mut NewCustomer, o: &Origin) -> Change {
    let nickname = o.person.then(|| NICKNAMES.iter().find(|n| n.0 == o.first)).flatten();
    let han = o.person && o.culture == data::CHINESE;
    let change = choose(
        r,
        &[
            (Change::NameTypo, 30, true),
            (Change::NameSwapped, 20, o.person),
            (Change::Nickname, 15, nickname.is_some()),
            (Change::HanName, 15, han),
            (Change::FullWidth, 8, true),
            (Change::UpperCase, 12, true),
        ],
    );
    c.name = match change {
        Change::NameTypo => typo(r, &c.name),
        Change::NameSwapped => format!("{} {}", o.last, o.first),
        Change::Nickname => {
            let short = pick(r, nickname.expect("chosen only with a nickname").1);
            format!("{short} {}", o.last)
        }
        Change::HanName => format!("{}{}", han_of(o.last), han_of(o.first)),
        Change::FullWidth => full_width(&c.name),
        _ => c.name.to_uppercase(),
    };
    change
}

fn han_of(pinyin: &str) -> &'static str {
    HAN.iter().find(|h| h.0 == pinyin).expect("every Chinese name has its characters").1
}

/// Latin letters and digits as their full-width forms (`Ｊｏｈｎ`), as East Asian input
/// methods type them; other characters as they are.
pub(super) fn full_width(s: &str) -> String {
    s.chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { char::from_u32(ch as u32 + 0xFEE0).unwrap_or(ch) } else { ch })
        .collect()
}

/// One typing error among the ASCII letters of `s`: a letter replaced by another, deleted,
/// a letter inserted after one, or two adjacent different letters swapped. Case follows the
/// letter replaced or followed; `s` needs at least two ASCII letters, so that a deletion
/// leaves one.
fn typo(r: &mut ChaCha8Rng, s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let letters: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_alphabetic()).collect();
    let swaps: Vec<usize> = letters
        .iter()
        .copied()
        .filter(|&i| i + 1 < b.len() && b[i + 1].is_ascii_alphabetic() && b[i] != b[i + 1])
        .collect();
    let at = *pick(r, &letters);
    match below(r, 4) {
        0 => {
            // One of the 25 other letters, in the same case.
            let x = b'a' + (b[at].to_ascii_lowercase() - b'a' + 1 + below(r, 25) as u8) % 26;
            b[at] = if b[at].is_ascii_uppercase() { x.to_ascii_uppercase() } else { x };
        }
        1 if letters.len() >= 2 => {
            b.remove(at);
        }
        2 if !swaps.is_empty() => {
            let i = *pick(r, &swaps);
            b.swap(i, i + 1);
        }
        _ => b.insert(at + 1, b'a' + below(r, 26) as u8),
    }
    String::from_utf8(b).expect("only ASCII letters were touched")
}

fn email(r: &mut ChaCha8Rng, c: &mut NewCustomer) -> Change {
    let e = c.email.take().expect("chosen only with an email");
    let (local, domain) = e.split_once('@').expect("generated emails have an @");
    let plus = domain == "example.com";
    let change = choose(
        r,
        &[
            (Change::EmailDomain, 25, true),
            (Change::EmailTypo, 20, true),
            (Change::EmailDots, 10, plus && dot_slots(local).next().is_some()),
            (Change::EmailTag, 10, plus),
            (Change::EmailUpperCase, 10, true),
            (Change::EmailDropped, 25, true),
        ],
    );
    c.email = match change {
        Change::EmailDomain => {
            let others: Vec<&str> = EMAIL_DOMAINS.iter().map(|d| d.0).filter(|&d| d != domain).collect();
            Some(format!("{local}@{}", pick(r, &others)))
        }
        Change::EmailTypo => Some(format!("{}@{domain}", typo(r, local))),
        Change::EmailDots => {
            // One or two dots, each between two letters; the later one first, so that the
            // earlier offset still holds.
            let slots: Vec<usize> = dot_slots(local).collect();
            let (a, b) = (*pick(r, &slots), *pick(r, &slots));
            let mut l = local.to_owned();
            l.insert(a.max(b), '.');
            if a != b {
                l.insert(a.min(b), '.');
            }
            Some(format!("{l}@{domain}"))
        }
        Change::EmailTag => Some(format!("{local}+{}@{domain}", pick(r, data::EMAIL_TAGS))),
        Change::EmailUpperCase => Some(e.to_uppercase()),
        _ => None,
    };
    change
}

/// Byte offsets between two ASCII letters of a local part, where a dot can go.
fn dot_slots(local: &str) -> impl Iterator<Item = usize> + '_ {
    let b = local.as_bytes();
    (1..b.len()).filter(move |&i| b[i - 1].is_ascii_alphabetic() && b[i].is_ascii_alphabetic())
}

fn phone(r: &mut ChaCha8Rng, c: &mut NewCustomer, o: &Origin) -> Change {
    let p = c.phone.take().expect("chosen only with a phone");
    let change = choose(
        r,
        &[
            (Change::PhoneNational, 35, true),
            (Change::PhoneSeparators, 20, true),
            (Change::PhoneDigit, 15, true),
            (Change::PhoneDropped, 30, true),
        ],
    );
    c.phone = match change {
        Change::PhoneNational => Some(national(&p, COUNTRIES[o.country].phone)),
        Change::PhoneSeparators => {
            let sep = *pick(r, &["", "-", "."]);
            Some(p.replace([' ', '-'], sep))
        }
        Change::PhoneDigit => {
            // The last four digits are free in every country's pattern: any of them gives
            // another valid number.
            let mut b = p.into_bytes();
            let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
            let at = digits[digits.len() - 4 + below(r, 4) as usize];
            b[at] = b'0' + ((u32::from(b[at] - b'0') + 1 + below(r, 9)) % 10) as u8;
            Some(String::from_utf8(b).expect("ASCII digits"))
        }
        _ => None,
    };
    change
}

/// A generated international number (`+44 7400 123456`) as it is written at home in its
/// country (`07400 123456`): the trunk prefix where there is one, the area code in brackets
/// in the Americas, no prefix for Singapore or for Chinese mobiles.
fn national(p: &str, style: PhoneStyle) -> String {
    let (_, rest) = p.split_once(' ').expect("generated numbers have a space after the country code");
    match style {
        PhoneStyle::Us => {
            let (area, local) = rest.split_once('-').expect("US numbers are AAA-NXX-XXXX");
            format!("({area}) {local}")
        }
        PhoneStyle::Br => {
            let (area, local) = rest.split_once(' ').expect("BR numbers are AA 9NNNN-NNNN");
            format!("({area}) {local}")
        }
        PhoneStyle::Sg | PhoneStyle::Cn => rest.to_owned(),
        PhoneStyle::Gb | PhoneStyle::De | PhoneStyle::Fr | PhoneStyle::Jp | PhoneStyle::Au | PhoneStyle::In => {
            format!("0{rest}")
        }
    }
}

fn address(r: &mut ChaCha8Rng, c: &mut NewCustomer) -> Change {
    let a = &mut c.address;
    let change = choose(
        r,
        &[
            (Change::StreetAbbreviated, 60, a.street.as_deref().is_some_and(abbreviates)),
            (Change::PostalCodeDropped, 40, a.postal_code.is_some()),
        ],
    );
    match change {
        Change::StreetAbbreviated => a.street = a.street.as_deref().map(abbreviate),
        _ => a.postal_code = None,
    }
    change
}

fn abbreviates(street: &str) -> bool {
    abbreviate(street) != street
}

/// `street` with its first abbreviable word abbreviated.
fn abbreviate(street: &str) -> String {
    let mut out = String::with_capacity(street.len());
    let mut done = false;
    for (i, word) in street.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if !done {
            if let Some(&(_, short)) = STREET_ABBREVIATIONS.iter().find(|a| a.0 == word) {
                out.push_str(short);
                done = true;
                continue;
            }
            if let Some(stem) = word.strip_suffix("straße") {
                let _ = write!(out, "{stem}str.");
                done = true;
                continue;
            }
        }
        out.push_str(word);
    }
    out
}

fn birthday(r: &mut ChaCha8Rng, c: &mut NewCustomer) -> Change {
    let b = c.birthday.expect("chosen only with a birthday");
    let swappable = b.day() <= 12 && b.day() != b.month();
    let change = choose(r, &[(Change::BirthdayDropped, 50, true), (Change::BirthdaySwapped, 50, swappable)]);
    c.birthday = match change {
        Change::BirthdaySwapped => {
            b.with_day(1).and_then(|d| d.with_month(b.day())).and_then(|d| d.with_day(b.month()))
        }
        _ => None,
    };
    change
}

fn company(r: &mut ChaCha8Rng, c: &mut NewCustomer, o: &Origin) -> Change {
    let name = c.company.take().expect("chosen only with a company");
    let (stem, forms) = legal_form(&name).expect("chosen only with a known legal form");
    let change = choose(r, &[(Change::LegalFormChanged, 60, !forms.is_empty()), (Change::LegalFormDropped, 40, true)]);
    let respelled = match change {
        Change::LegalFormChanged => format!("{stem} {}", pick(r, forms)),
        _ => stem.to_owned(),
    };
    if !o.person {
        c.name.clone_from(&respelled);
    }
    c.company = Some(respelled);
    change
}

/// A company name without its legal form, and the form's other spellings; the longest form
/// that ends the name (`Pvt. Ltd.` rather than `Ltd.`).
fn legal_form(name: &str) -> Option<(&str, &'static [&'static str])> {
    LEGAL_FORMS
        .iter()
        .filter_map(|&(form, others)| {
            let stem = name.strip_suffix(form)?.strip_suffix(' ')?;
            Some((form.len(), stem, others))
        })
        .max_by_key(|m| m.0)
        .map(|(_, stem, others)| (stem, others))
}
