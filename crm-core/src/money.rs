//! Money as integer minor units with an ISO 4217 currency. Never a float.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Largest absolute amount accepted, in minor units (10^15: ten trillion dollars in cents).
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// An ISO 4217 currency code, such as `USD` or `CNY`.
///
/// ```
/// use crm_core::Currency;
/// let usd: Currency = "usd".parse().unwrap();
/// assert_eq!(usd.code(), "USD");
/// assert_eq!(usd.minor_digits(), 2);
/// assert!("XYZ".parse::<Currency>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Parses a three-letter code (case-insensitive).
    pub fn new(code: &str) -> Result<Currency> {
        let upper = code.trim().to_ascii_uppercase();
        iso_currency::Currency::from_code(&upper)
            .map(Currency)
            .ok_or_else(|| Error::validation("currency", format!("{code:?} is not an ISO 4217 currency code")))
    }

    /// The three-letter code.
    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// Number of decimal digits of the minor unit (2 for USD, 0 for JPY, 3 for KWD).
    pub fn minor_digits(&self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(0))
    }
}

impl FromStr for Currency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Currency> {
        Currency::new(s)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Currency, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A currency is written as its ISO 4217 code; case and surrounding spaces do not matter
/// (`"usd"` is USD), and a code ISO 4217 does not list is refused.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Currency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Currency".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\s*[A-Za-z]{3}\\s*$",
            "description": "An ISO 4217 currency code such as \"USD\" (any case; codes ISO 4217 does not list are refused)."
        })
    }
}

/// An amount of money: integer minor units (cents for USD) and a currency.
///
/// ```
/// use crm_core::{Currency, Money};
/// let m = Money::parse_decimal("1000.50", "CNY".parse().unwrap()).unwrap();
/// assert_eq!(m.minor, 100_050);
/// assert_eq!(m.to_string(), "1000.50 CNY");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in the currency's minor unit.
    pub minor: i64,
    /// ISO 4217 currency.
    pub currency: Currency,
}

impl Money {
    /// Builds an amount from minor units.
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Parses a decimal amount such as `"12.34"` exactly (no floating point), refusing more
    /// decimal digits than the currency has and amounts beyond [`MAX_MINOR`].
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Money> {
        let bad = |why: &str| Error::validation("amount", format!("{text:?} {why}"));
        let t = text.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        let digits = currency.minor_digits() as usize;
        if int.is_empty()
            || (t.contains('.') && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("is not a decimal number"));
        }
        if frac.len() > digits {
            return Err(bad(&format!("has more than {digits} decimal places for {currency}")));
        }
        let mut minor: i64 = 0;
        for b in int.bytes().chain(frac.bytes()).chain(std::iter::repeat_n(b'0', digits - frac.len())) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .filter(|m| *m <= MAX_MINOR)
                .ok_or_else(|| bad("is out of range"))?;
        }
        Ok(Money { minor: if neg { -minor } else { minor }, currency })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if digits == 0 {
            write!(f, "{sign}{abs} {}", self.currency)
        } else {
            let p = 10u64.pow(digits);
            write!(f, "{sign}{}.{:0width$} {}", abs / p, abs % p, self.currency, width = digits as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_parsing_is_exact() {
        let usd = Currency::new("USD").unwrap();
        assert_eq!(Money::parse_decimal("0.1", usd).unwrap().minor, 10);
        assert_eq!(Money::parse_decimal("-3", usd).unwrap().minor, -300);
        assert!(Money::parse_decimal("1.234", usd).is_err());
        assert!(Money::parse_decimal("1e3", usd).is_err());
        assert!(Money::parse_decimal("1.", usd).is_err());
        assert!(Money::parse_decimal(".5", usd).is_err());
        assert!(Money::parse_decimal("99999999999999999999", usd).is_err());
        let jpy = Currency::new("JPY").unwrap();
        assert_eq!(Money::parse_decimal("500", jpy).unwrap().to_string(), "500 JPY");
        assert!(Money::parse_decimal("5.5", jpy).is_err());
    }

    #[test]
    fn currency_serde_round_trip() {
        let m = Money::new(-1205, Currency::new("eur").unwrap());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"minor":-1205,"currency":"EUR"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Money>(r#"{"minor":1,"currency":"ZZZ"}"#).is_err());
    }
}
