//! Standardisation: the one place where a customer's fields become comparison keys.
//!
//! Matching compares these keys, never the stored values, so that spellings of one value
//! that people and systems produce compare as equal: Unicode compatibility forms
//! (full-width letters), case, accents, spacing and punctuation, the order of name parts,
//! Han characters against their pinyin, a mailbox's provider-specific spellings, a phone
//! number's notation, street-type abbreviations and a company's legal form. Nothing here
//! changes what is stored.

use chrono::NaiveDate;
use pinyin::ToPinyin;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::customer::{Customer, CustomerKind, IdentityFields};

/// A customer's comparison keys, each its own value (see the [module documentation](self)).
/// Build one to compare values that are not a stored customer; [`Standard`] holds the same
/// keys packed for matching.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keys {
    /// Person or company.
    pub kind: CustomerKind,
    /// The name's tokens in their written order (see [`name_tokens`]).
    pub name: Vec<String>,
    /// The name's tokens sorted and joined without a separator: one key for every order
    /// and spacing of the same parts ("Wang Xiuying", "Xiuying Wang", "王秀英").
    pub name_key: String,
    /// The email address, lower case.
    pub email: Option<String>,
    /// The mailbox behind the address (see [`email_key`]).
    pub email_key: Option<String>,
    /// The phone number's digits (E.164 without the `+`).
    pub phone: Option<String>,
    /// Country and postal code (see [`postal_key`]).
    pub postal: Option<String>,
    /// Street tokens (see [`street_key`]).
    pub street: Option<String>,
    /// City, lower case, accents removed.
    pub city: Option<String>,
    /// Company without its legal form (see [`company_key`]).
    pub company: Option<String>,
    /// Date of birth.
    pub birthday: Option<NaiveDate>,
}

impl Keys {
    /// The comparison keys of a stored customer.
    pub fn of(c: &Customer) -> Keys {
        Keys::of_fields(&IdentityFields::from(c))
    }

    /// The comparison keys of a customer's identity fields.
    pub fn of_fields(c: &IdentityFields) -> Keys {
        let name = name_tokens(&c.name);
        let name_key = sorted_key(&name);
        let country = c.address.country.as_deref();
        Keys {
            kind: c.kind,
            name,
            name_key,
            email: c.email.as_deref().map(str::to_lowercase),
            email_key: c.email.as_deref().and_then(email_key),
            phone: c
                .phone
                .as_deref()
                .map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>())
                .filter(|p| !p.is_empty()),
            postal: c.address.postal_code.as_deref().and_then(|p| postal_key(country, p)),
            street: c.address.street.as_deref().and_then(street_key),
            city: c.address.city.as_deref().map(|s| fold(s).join(" ")).filter(|s| !s.is_empty()),
            company: c.company.as_deref().and_then(company_key),
            birthday: c.birthday,
        }
    }
}

/// The parts of [`Standard::text`], in order.
const NAME: usize = 0;
const NAME_KEY: usize = 1;
const EMAIL: usize = 2;
const EMAIL_KEY: usize = 3;
const PHONE: usize = 4;
const POSTAL: usize = 5;
const STREET: usize = 6;
const CITY: usize = 7;
const COMPANY: usize = 8;
const PARTS: usize = 9;

/// A customer's comparison keys packed for matching: every text in one allocation, so that
/// comparing two customers reads a few cache lines instead of a dozen scattered strings
/// (a third of the time of a whole-store search). Read through the accessors; an empty
/// value reads as none.
///
/// ```
/// use crm_core::identity::standardize::Standard;
/// use crm_core::{Crm, NewCustomer};
/// let crm = Crm::in_memory()?;
/// let c = crm.create_customer(&NewCustomer {
///     name: "Ｗａｎｇ  Xiuying".into(), email: Some("Wang.Xiu+shop@GoogleMail.com".into()),
///     ..Default::default() })?;
/// let s = Standard::of(&c);
/// assert_eq!(s.name_tokens().collect::<Vec<_>>(), ["wang", "xiuying"]);
/// assert_eq!(s.name_key(), Standard::of(&crm.create_customer(&NewCustomer {
///     name: "王秀英".into(), ..Default::default() })?).name_key());
/// assert_eq!(s.email_key(), Some("wangxiu@gmail.com"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standard {
    /// The name's tokens joined by single spaces, then the other texts, back to back.
    text: Box<str>,
    /// Where each part of `text` ends.
    ends: [u32; PARTS],
    birthday: Option<NaiveDate>,
    kind: CustomerKind,
}

impl Standard {
    /// The packed comparison keys of a stored customer.
    pub fn of(c: &Customer) -> Standard {
        Standard::from(&Keys::of(c))
    }

    /// The packed comparison keys of a customer's identity fields.
    pub fn of_fields(c: &IdentityFields) -> Standard {
        Standard::from(&Keys::of_fields(c))
    }

    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    fn some(&self, i: usize) -> Option<&str> {
        Some(self.part(i)).filter(|p| !p.is_empty())
    }

    /// Person or company.
    pub fn kind(&self) -> CustomerKind {
        self.kind
    }
    /// The name's tokens in their written order.
    pub fn name_tokens(&self) -> impl Iterator<Item = &str> + '_ {
        self.part(NAME).split(' ').filter(|t| !t.is_empty())
    }
    /// The name's tokens joined by single spaces (equal exactly when the tokens are).
    pub fn name(&self) -> &str {
        self.part(NAME)
    }
    /// See [`Keys::name_key`].
    pub fn name_key(&self) -> &str {
        self.part(NAME_KEY)
    }
    /// See [`Keys::email`].
    pub fn email(&self) -> Option<&str> {
        self.some(EMAIL)
    }
    /// See [`Keys::email_key`].
    pub fn email_key(&self) -> Option<&str> {
        self.some(EMAIL_KEY)
    }
    /// See [`Keys::phone`].
    pub fn phone(&self) -> Option<&str> {
        self.some(PHONE)
    }
    /// See [`Keys::postal`].
    pub fn postal(&self) -> Option<&str> {
        self.some(POSTAL)
    }
    /// See [`Keys::street`].
    pub fn street(&self) -> Option<&str> {
        self.some(STREET)
    }
    /// See [`Keys::city`].
    pub fn city(&self) -> Option<&str> {
        self.some(CITY)
    }
    /// See [`Keys::company`].
    pub fn company(&self) -> Option<&str> {
        self.some(COMPANY)
    }
    /// Date of birth.
    pub fn birthday(&self) -> Option<NaiveDate> {
        self.birthday
    }
}

impl From<&Keys> for Standard {
    /// Packs `keys`; name tokens are split at whitespace and empty ones dropped, so that
    /// the tokens read back are those of the name.
    fn from(keys: &Keys) -> Standard {
        let mut text = String::new();
        let mut ends = [0u32; PARTS];
        for t in keys.name.iter().flat_map(|t| t.split_whitespace()) {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(t);
        }
        ends[NAME] = text.len() as u32;
        let rest = [
            Some(keys.name_key.as_str()),
            keys.email.as_deref(),
            keys.email_key.as_deref(),
            keys.phone.as_deref(),
            keys.postal.as_deref(),
            keys.street.as_deref(),
            keys.city.as_deref(),
            keys.company.as_deref(),
        ];
        for (i, part) in rest.into_iter().enumerate() {
            text.push_str(part.unwrap_or(""));
            ends[i + 1] = text.len() as u32;
        }
        Standard { text: text.into_boxed_str(), ends, birthday: keys.birthday, kind: keys.kind }
    }
}

/// Whether `c` is a Han character (it has a pinyin reading).
fn is_han(c: char) -> bool {
    c.to_pinyin().is_some()
}

/// Text folded for comparison: NFKC (full-width and other compatibility forms become
/// their plain letters), lower case, accents removed, apostrophes dropped ("O'Brien" is
/// "obrien"), every other character that is not a letter or digit a separator. Returns
/// the tokens.
///
/// ```
/// use crm_core::identity::standardize::fold;
/// assert_eq!(fold("Ｏ'Brien-SMITH, Zoë"), ["obrien", "smith", "zoe"]);
/// ```
pub fn fold(text: &str) -> Vec<String> {
    if text.is_ascii() {
        fold_ascii(text)
    } else {
        fold_unicode(text)
    }
}

fn fold_unicode(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut token = String::new();
    for c in text.nfkc().flat_map(char::to_lowercase).collect::<String>().nfkd() {
        if is_combining_mark(c) || matches!(c, '\'' | '\u{2019}' | '\u{2bc}' | '`') {
            continue;
        }
        if c.is_alphanumeric() {
            token.push(c);
        } else if !token.is_empty() {
            tokens.push(std::mem::take(&mut token));
        }
    }
    if !token.is_empty() {
        tokens.push(token);
    }
    // NFKD split Hangul and kana into parts; put them back together.
    tokens.into_iter().map(|t| t.nfc().collect()).collect()
}

/// [`fold`] of ASCII text, where normalisation changes nothing: the same tokens without
/// the Unicode passes (most names, streets and cities).
fn fold_ascii(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut token = String::new();
    for b in text.bytes() {
        if matches!(b, b'\'' | b'`') {
            continue;
        }
        if b.is_ascii_alphanumeric() {
            token.push(char::from(b.to_ascii_lowercase()));
        } else if !token.is_empty() {
            tokens.push(std::mem::take(&mut token));
        }
    }
    if !token.is_empty() {
        tokens.push(token);
    }
    tokens
}

/// A name's comparison tokens, in written order: [`fold`]ed, and Han characters read in
/// toneless pinyin, a run of them one token. A name that is one run of Han characters
/// is read as a Chinese name, surname first: its first character is one token and the
/// rest another ("王秀英" is `["wang", "xiuying"]`), so that it meets "Wang Xiuying" and
/// "Xiuying Wang". (Two-character surnames such as 欧阳 are read as one character and a
/// given name: "欧阳修" gives `["ou", "yangxiu"]`, whose order-free key still equals
/// that of "Ouyang Xiu".)
///
/// ```
/// use crm_core::identity::standardize::name_tokens;
/// assert_eq!(name_tokens("  José  O'Brien-Smith "), ["jose", "obrien", "smith"]);
/// assert_eq!(name_tokens("ＪＯＨＮ　ＳＭＩＴＨ"), ["john", "smith"]);
/// assert_eq!(name_tokens("王秀英"), ["wang", "xiuying"]);
/// assert_eq!(name_tokens("王 秀英"), ["wang", "xiuying"]);
/// ```
pub fn name_tokens(name: &str) -> Vec<String> {
    let folded = fold(name);
    let alone = folded.len() == 1;
    let mut out = Vec::new();
    for token in folded {
        if token.is_ascii() || !token.chars().any(is_han) {
            out.push(token);
            continue;
        }
        // Runs of Han characters (read in pinyin) and of other characters.
        let whole_han = token.chars().all(is_han);
        let mut run = String::new();
        let mut han: Vec<&'static str> = Vec::new();
        let flush = |han: &mut Vec<&'static str>, out: &mut Vec<String>| {
            if han.is_empty() {
                return;
            }
            if alone && whole_han && han.len() > 1 {
                // A whole name in Han characters without spaces: surname, then given name.
                out.push(han[0].to_owned());
                out.push(han[1..].concat());
            } else {
                out.push(han.concat());
            }
            han.clear();
        };
        for c in token.chars() {
            match c.to_pinyin() {
                Some(p) => {
                    if !run.is_empty() {
                        out.push(std::mem::take(&mut run));
                    }
                    han.push(p.plain());
                }
                None => {
                    flush(&mut han, &mut out);
                    run.push(c);
                }
            }
        }
        flush(&mut han, &mut out);
        if !run.is_empty() {
            out.push(run);
        }
    }
    out
}

/// Tokens sorted and joined without a separator.
fn sorted_key(tokens: &[String]) -> String {
    let mut sorted: Vec<&str> = tokens.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.concat()
}

/// The mailbox an address delivers to, as a comparison key: lower case, a `+tag` after
/// the local part dropped, and for Gmail (`gmail.com`, `googlemail.com`) the dots of the
/// local part dropped and the domain `gmail.com`. `None` for text without an `@`.
///
/// ```
/// use crm_core::identity::standardize::email_key;
/// assert_eq!(email_key("Ada.Lovelace+news@googlemail.com").as_deref(), Some("adalovelace@gmail.com"));
/// assert_eq!(email_key("ada.lovelace+news@example.com").as_deref(), Some("ada.lovelace@example.com"));
/// ```
pub fn email_key(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com"),
        _ => (local.to_owned(), domain),
    };
    (!local.is_empty() && !domain.is_empty()).then(|| format!("{local}@{domain}"))
}

/// Country and postal code as one key: the code upper case with only its letters and
/// digits, after the country code when there is one (`"SG:018956"`).
///
/// ```
/// use crm_core::identity::standardize::postal_key;
/// assert_eq!(postal_key(Some("GB"), " sw1a 1aa").as_deref(), Some("GB:SW1A1AA"));
/// assert_eq!(postal_key(None, "-"), None);
/// ```
pub fn postal_key(country: Option<&str>, code: &str) -> Option<String> {
    let code: String = code.nfkc().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
    if code.is_empty() {
        return None;
    }
    Some(match country {
        Some(cc) => format!("{}:{code}", cc.to_ascii_uppercase()),
        None => code,
    })
}

/// Street words and their usual abbreviations, as the street key writes them.
const STREET_WORDS: &[(&str, &str)] = &[
    ("st", "street"),
    ("str", "strasse"),
    ("straße", "strasse"),
    ("rd", "road"),
    ("ave", "avenue"),
    ("av", "avenue"),
    ("blvd", "boulevard"),
    ("dr", "drive"),
    ("ln", "lane"),
    ("ct", "court"),
    ("pl", "place"),
    ("sq", "square"),
    ("hwy", "highway"),
    ("jln", "jalan"),
    ("jl", "jalan"),
    ("r", "rua"),
    ("c", "calle"),
    ("bd", "boulevard"),
];

/// A street as a comparison key: [`fold`]ed tokens with street-type abbreviations written
/// out ("12 Baker St." and "12 baker street" are one key); a token ending in `str` or
/// `straße` (German compounds such as "Hauptstr.") ends in `strasse`.
///
/// ```
/// use crm_core::identity::standardize::street_key;
/// assert_eq!(street_key("12 Baker St.").as_deref(), Some("12 baker street"));
/// assert_eq!(street_key("Hauptstr. 5").as_deref(), Some("hauptstrasse 5"));
/// ```
pub fn street_key(street: &str) -> Option<String> {
    let tokens: Vec<String> = fold(street)
        .into_iter()
        .map(|t| {
            if let Some(&(_, long)) = STREET_WORDS.iter().find(|(short, _)| *short == t) {
                return long.to_owned();
            }
            for suffix in ["straße", "str"] {
                if let Some(stem) = t.strip_suffix(suffix) {
                    if !stem.is_empty() {
                        return format!("{stem}strasse");
                    }
                }
            }
            t
        })
        .collect();
    (!tokens.is_empty()).then(|| tokens.join(" "))
}

/// Legal forms dropped from a company name's end, as [`fold`]ed tokens.
const LEGAL_FORMS: &[&[&str]] = &[
    &["ltd"],
    &["limited"],
    &["inc"],
    &["incorporated"],
    &["llc"],
    &["llp"],
    &["plc"],
    &["corp"],
    &["corporation"],
    &["co"],
    &["company"],
    &["gmbh"],
    &["ag"],
    &["kg"],
    &["se"],
    &["sa"],
    &["s", "a"],
    &["sas"],
    &["sarl"],
    &["srl"],
    &["spa"],
    &["bv"],
    &["nv"],
    &["pte"],
    &["pty"],
    &["kk"],
    &["sdn", "bhd"],
    &["bhd"],
    &["ltda"],
    &["oy"],
    &["ab"],
    &["as"],
    &["pvt"],
    &["private"],
];

/// Legal forms written in Han or kana, dropped wherever they stand.
const CJK_LEGAL_FORMS: &[&str] = &["股份有限公司", "有限责任公司", "有限公司", "株式会社", "有限会社", "合同会社"];

/// A company name as a comparison key: CJK legal forms removed, [`fold`]ed, and legal-form
/// tokens at the end dropped until none is left ("Acme Pte. Ltd." and "ACME" are one key).
/// `None` when nothing else is left.
///
/// ```
/// use crm_core::identity::standardize::company_key;
/// assert_eq!(company_key("Acme Pte. Ltd.").as_deref(), Some("acme"));
/// assert_eq!(company_key("Müller & Söhne GmbH").as_deref(), Some("muller sohne"));
/// assert_eq!(company_key("Ltd"), None);
/// ```
pub fn company_key(company: &str) -> Option<String> {
    let mut text: String = company.nfkc().collect();
    for form in CJK_LEGAL_FORMS {
        text = text.replace(form, " ");
    }
    let mut tokens = fold(&text);
    // "S.A." folds to ["s", "a"]; "&" is a separator and leaves nothing.
    loop {
        let before = tokens.len();
        for form in LEGAL_FORMS {
            let n = form.len();
            if tokens.len() >= n && tokens[tokens.len() - n..].iter().zip(form.iter()).all(|(t, f)| t == f) {
                tokens.truncate(tokens.len() - n);
                break;
            }
        }
        if tokens.len() == before || tokens.is_empty() {
            break;
        }
    }
    (!tokens.is_empty()).then(|| tokens.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_fold_is_the_unicode_fold_of_ascii_text() {
        let all: String = (0u8..128).map(char::from).collect();
        for text in [
            all.as_str(),
            "  O'Brien-SMITH, Jr.  ",
            "12 Baker St.",
            "rue de l`Eglise 4b",
            "ACME PTE. LTD.",
            "",
            "   ",
            "a_b c\td\ne",
        ] {
            assert_eq!(fold_ascii(text), fold_unicode(text), "{text:?}");
        }
    }
}
