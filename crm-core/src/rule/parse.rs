//! The text form of the rule language, read into the syntax tree: a lexer that hands out one
//! token at a time (so errors come in the order they appear in the text) and a
//! recursive-descent parser whose recursion is bounded by [`MAX_DEPTH`], so hostile input
//! such as 100,000 `(` is an error, never a stack overflow.
//!
//! The grammar is on [`parse`]; the printer that undoes it is in `print.rs`.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::ast::{AggFunc, Cmp, Expr, Literal, Sign, Source, Span, Unit, Value, MAX_DEPTH, MAX_SPAN};
use crate::error::{Error, Result};
use crate::money::{Currency, Money, MAX_MINOR};

/// Words of the grammar. Written alone (any case) they are never field names; a dotted name
/// such as `rfm.segment` is always a field.
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "contains", "starts", "with", "is", "null", "within", "between", "before", "after",
    "true", "false", "where", "segment",
];

/// Names refused in value position: a float that is not finite cannot be written, and the
/// printer writes `NaN`, `inf` and `-inf` for one so that the text fails here, clearly.
const NON_FINITE: &[&str] = &["nan", "inf", "infinity"];

const EXPECT_PREDICATE: &str =
    "a comparison (=, !=, <, <=, >, >=, before, after), in, not in, contains, starts with, is, within or between";
const EXPECT_UNIT: &str = "a unit (hours, days, weeks, months or years)";
const EXPECT_SOURCE: &str =
    "an aggregate source (orders, all_orders, items or interactions), with `.field` for sum, min and max";

/// Reads rule-language text into a syntax tree.
///
/// The tree says what was written; unknown fields, type mismatches and unknown segments are
/// found later by the checker. Printing a tree with [`Display`](std::fmt::Display) gives its
/// canonical text, and `parse(&e.to_string()) == e` holds for every tree the checker accepts
/// (see *Round trip* below for the trees it does not hold for).
///
/// ```
/// use crm_core::rule::{parse, Cmp, Expr, Literal, Value};
///
/// let e = parse("country IN [\"CN\", \"SG\"]\n  AND total_spent >= 1000 CNY  # stats are in CNY")?;
/// assert_eq!(e.to_string(), r#"country in ["CN", "SG"] and total_spent >= 1000.00 CNY"#);
/// assert_eq!(parse(&e.to_string())?, e);
///
/// let Expr::And { args } = &e else { panic!("expected and") };
/// assert!(matches!(
///     &args[1],
///     Expr::Compare { cmp: Cmp::Ge, right: Value::Literal { value: Literal::Money { minor: 100_000, .. } }, .. }
/// ));
///
/// let err = parse("country in [\"CN\",\n  \"SG\"").unwrap_err();
/// assert_eq!(err.to_string(), "parse error at line 2, column 7: expected `,` or `]`, found end of input");
/// # Ok::<(), crm_core::Error>(())
/// ```
///
/// # Grammar
///
/// Whitespace (including line breaks) separates tokens; `#` starts a comment to the end of
/// the line. Keywords, function, source and unit names are case-insensitive and printed in
/// lower case; field names keep their case. In EBNF:
///
/// ```text
/// expr      = and { "or" and } ;                  (* a or b or c: one Or of three *)
/// and       = not { "and" not } ;                 (* a and b and c: one And of three *)
/// not       = "not" not | "(" expr ")" | "in" "segment" string | predicate ;
/// predicate = value ( cmp value
///                   | ( "before" | "after" ) value          (* the tree holds < and > *)
///                   | [ "not" ] "in" list
///                   | "in" value                            (* only after a literal: "vip" in tags *)
///                   | "contains" value
///                   | "starts" "with" value
///                   | "is" [ "not" ] "null"
///                   | "within" span
///                   | "between" value "and" value )
///           | "true" | "false" ;                            (* a bare Bool condition *)
/// cmp       = "=" | "!=" | "<" | "<=" | ">" | ">=" ;
/// list      = "[" literal { "," literal } "]" ;
/// value     = primary { ( "+" | "-" ) span } ;            (* now() - 30 days - 2 hours *)
/// primary   = field | literal | "now" "(" ")" | aggregate ;
/// aggregate = ( "count" | "sum" | "min" | "max" ) "(" source [ "." name ]
///             [ "where" expr ] [ "within" span ] ")" ;
/// source    = "orders" | "all_orders" | "items" | "interactions" ;
/// span      = count unit ;                               (* count: 0 to 100000 *)
/// unit      = "hour" | "hours" | "day" | "days" | "week" | "weeks"
///           | "month" | "months" | "year" | "years" ;
/// field     = name ;                                     (* not a lone keyword *)
/// name      = ident { "." ident } ;                      (* no spaces around "." *)
/// ident     = ( letter | "_" ) { letter | digit | "_" } ;  (* ASCII *)
/// literal   = string | [ "-" ] number [ currency ] | "true" | "false" | date | time ;
/// string    = '"' { char | "\"" | "\\" | "\n" | "\t" | "\r" | "\u{" hex+ "}" } '"' ;
/// number    = digit+ [ "." digit+ ] [ ( "e" | "E" ) [ "+" | "-" ] digit+ ] ;
/// currency  = three upper-case letters, an ISO 4217 code ;  (* 1000.00 CNY *)
/// date      = digit{4} "-" digit{2} "-" digit{2} ;           (* no spaces inside *)
/// time      = date "T" hh ":" mm ":" ss [ "." digit+ ] ( "Z" | ( "+" | "-" ) hh ":" mm ) ;
/// ```
///
/// Resolving the ambiguities:
/// - After a value, `within` starts the Within predicate (`occurred_at within 30 days`); after
///   a complete predicate it ends the condition, and inside an aggregate it is the aggregate's
///   window: `count(orders where category = "shoes" within 180 days)` filters on the category
///   over the last 180 days, `count(orders where occurred_at within 30 days)` filters on a
///   Within predicate and has no window.
/// - `true` and `false` as a condition are [`Expr::Bool`], unless an operator follows: in
///   `true = attributes.active` or `true within 5 days` they are literal values.
/// - The `and` after `between low` belongs to `between`: its bounds are values, not conditions.
/// - A number followed by a three-letter upper-case ISO code is money, read exactly with the
///   currency's number of decimal places (`1.005 USD` is an error, `5 JPY` is 5 yen).
/// - A number with `.` or an exponent is a float, otherwise an integer (`i64`).
/// - Parentheses group conditions only; a value cannot be parenthesised.
/// - An aggregate takes an optional `.field` whatever its function: the checker, not the
///   parser, says that `count` has none and `sum`, `min` and `max` need one.
/// - `a and (b and c)` keeps the inner `And`; only a chain without parentheses is one node.
///
/// # Limits
///
/// Nesting deeper than [`MAX_DEPTH`] is an error at the token that goes too deep; each `(`,
/// `not`, aggregate `where` and time shift (`+ 1 day`) counts one level. Integers must fit
/// `i64`, floats must be finite, money must be within [`MAX_MINOR`](crate::MAX_MINOR) minor
/// units, a span's count within 0 to 100000.
///
/// # Errors
///
/// [`Error::Parse`] with the 1-based line and column (in characters; a tab is one) of the
/// offending token, what was found there (the token quoted in backticks, ``identifier `x` ``
/// for a name, or `end of input`) and what the grammar expected.
///
/// # Round trip
///
/// `parse(&e.to_string()) == e` for every tree the parser can produce, and the checker
/// refuses the trees it cannot, so the equality holds for every tree the checker accepts.
/// Trees built by hand or from JSON that the parser cannot produce print as faithfully as
/// the text form allows and do not read back the same: an `and`/`or` of fewer than two
/// conditions (printed as its only condition, or `true`/`false` when empty), an empty
/// `in []` list, a field name that is not a dotted identifier or is a lone keyword or
/// `nan`/`inf`/`infinity`, a non-finite float (printed `NaN`, `inf` or `-inf`, which do not
/// parse), money beyond `MAX_MINOR`, a span count outside 0 to 100000, dates and times
/// outside the years 0000 to 9999, and nesting deeper than [`MAX_DEPTH`] once printed.
pub fn parse(text: &str) -> Result<Expr> {
    let mut p = Parser { lexer: Lexer::new(text), peeked: None, depth: 0 };
    let e = p.or()?;
    let t = p.next()?;
    if t.tok != Tok::Eof {
        return Err(unexpected(&t, "`and`, `or` or end of input"));
    }
    Ok(e)
}

#[derive(Debug, PartialEq)]
enum Tok {
    /// A name, possibly dotted; keywords too (they are told apart by the parser).
    Ident,
    /// Digits with an optional fraction and exponent; the text is read by the parser, which
    /// knows whether money, an integer or a float is wanted.
    Number,
    Str(String),
    Date(NaiveDate),
    Time(DateTime<Utc>),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Cmp(Cmp),
    Plus,
    Minus,
    /// A character that starts no token; the parser reports it with what it expected.
    Unknown,
    Eof,
}

#[derive(Debug)]
struct Token<'a> {
    tok: Tok,
    text: &'a str,
    line: usize,
    column: usize,
}

impl Token<'_> {
    fn is_kw(&self, kw: &str) -> bool {
        self.tok == Tok::Ident && self.text.eq_ignore_ascii_case(kw)
    }

    /// The lower-cased word if the token is an undotted name.
    fn word(&self) -> Option<String> {
        (self.tok == Tok::Ident && !self.text.contains('.')).then(|| self.text.to_ascii_lowercase())
    }
}

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// A token's text in backticks for an error message: control characters escaped, and long
/// text (a megabyte string) cut short.
fn quote(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut out = String::from("`");
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

fn describe(t: &Token<'_>) -> String {
    match t.tok {
        Tok::Eof => "end of input".to_owned(),
        Tok::Ident if !is_keyword(t.text) => format!("identifier {}", quote(t.text)),
        _ => quote(t.text),
    }
}

fn error_at(line: usize, column: usize, found: String, expected: impl Into<String>) -> Error {
    Error::Parse { line, column, found, expected: expected.into() }
}

fn unexpected(t: &Token<'_>, expected: impl Into<String>) -> Error {
    error_at(t.line, t.column, describe(t), expected)
}

struct Lexer<'a> {
    src: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    line: usize,
    column: usize,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Lexer<'a> {
        Lexer { src, pos: 0, line: 1, column: 1 }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_nth(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn bump_while(&mut self, pred: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&pred) {
            self.bump();
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('#') => self.bump_while(|c| c != '\n'),
                _ => return,
            }
        }
    }

    fn next(&mut self) -> Result<Token<'a>> {
        self.skip_trivia();
        let (start, line, column) = (self.pos, self.line, self.column);
        let tok = match self.bump() {
            None => Tok::Eof,
            Some('(') => Tok::LParen,
            Some(')') => Tok::RParen,
            Some('[') => Tok::LBracket,
            Some(']') => Tok::RBracket,
            Some(',') => Tok::Comma,
            Some('+') => Tok::Plus,
            Some('-') => Tok::Minus,
            Some('=') => Tok::Cmp(Cmp::Eq),
            Some('!') if self.peek() == Some('=') => {
                self.bump();
                Tok::Cmp(Cmp::Ne)
            }
            Some('<') if self.peek() == Some('=') => {
                self.bump();
                Tok::Cmp(Cmp::Le)
            }
            Some('<') => Tok::Cmp(Cmp::Lt),
            Some('>') if self.peek() == Some('=') => {
                self.bump();
                Tok::Cmp(Cmp::Ge)
            }
            Some('>') => Tok::Cmp(Cmp::Gt),
            Some('"') => self.string(start, line, column)?,
            Some(c) if c.is_ascii_digit() => self.number(start, line, column)?,
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.ident(start, line, column)?,
            Some(_) => Tok::Unknown,
        };
        Ok(Token { tok, text: &self.src[start..self.pos], line, column })
    }

    fn ident(&mut self, start: usize, line: usize, column: usize) -> Result<Tok> {
        loop {
            self.bump_while(|c| c.is_ascii_alphanumeric() || c == '_');
            if self.peek() != Some('.') {
                return Ok(Tok::Ident);
            }
            self.bump();
            if !self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
                let found = quote(&self.src[start..self.pos]);
                return Err(error_at(line, column, found, "a name after `.`"));
            }
        }
    }

    /// A number, or a date or time (four digits and a `-` with a digit after it).
    fn number(&mut self, start: usize, line: usize, column: usize) -> Result<Tok> {
        self.bump_while(|c| c.is_ascii_digit());
        if self.pos - start == 4 && self.peek() == Some('-') && self.peek_nth(1).is_some_and(|c| c.is_ascii_digit()) {
            return self.date_or_time(start, line, column);
        }
        if self.peek() == Some('.') {
            self.bump();
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                let found = quote(&self.src[start..self.pos]);
                return Err(error_at(line, column, found, "digits after the decimal point"));
            }
            self.bump_while(|c| c.is_ascii_digit());
        }
        // An `e` not followed by digits is left alone: `5EUR` is 5 and a currency code.
        let exponent = match (self.peek(), self.peek_nth(1), self.peek_nth(2)) {
            (Some('e' | 'E'), Some(d), _) if d.is_ascii_digit() => true,
            (Some('e' | 'E'), Some('+' | '-'), Some(d)) => d.is_ascii_digit(),
            _ => false,
        };
        if exponent {
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            self.bump_while(|c| c.is_ascii_digit());
        }
        Ok(Tok::Number)
    }

    fn date_or_time(&mut self, start: usize, line: usize, column: usize) -> Result<Tok> {
        self.bump_while(|c| c.is_ascii_digit() || c == '-');
        let date_end = self.pos;
        let is_time = matches!(self.peek(), Some('T' | 't')) && self.peek_nth(1).is_some_and(|c| c.is_ascii_digit());
        if !is_time {
            let text = &self.src[start..date_end];
            return parse_date(text)
                .map(Tok::Date)
                .ok_or_else(|| error_at(line, column, quote(text), "a valid date (YYYY-MM-DD)"));
        }
        self.bump();
        self.bump_while(|c| c.is_ascii_digit() || c == ':' || c == '.');
        match (self.peek(), self.peek_nth(1)) {
            (Some('Z' | 'z'), _) => {
                self.bump();
            }
            (Some('+' | '-'), Some(d)) if d.is_ascii_digit() => {
                self.bump();
                self.bump_while(|c| c.is_ascii_digit() || c == ':');
            }
            _ => {}
        }
        let text = &self.src[start..self.pos];
        // The date part is checked on its own so that the shape is exactly YYYY-MM-DD.
        let time = DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc));
        let expected = match (parse_date(&self.src[start..date_end]), time) {
            (Some(_), Some(t)) if (0..=9999).contains(&t.year()) => return Ok(Tok::Time(t)),
            // Printed in UTC, a time must stay within four-digit years to read back.
            (Some(_), Some(_)) => "a time within the years 0000 to 9999 in UTC",
            _ => "a valid RFC 3339 time with `Z` or an offset, such as `2026-01-31T12:00:00Z`",
        };
        Err(error_at(line, column, quote(text), expected))
    }

    /// A string literal; the opening quote is consumed.
    fn string(&mut self, start: usize, line: usize, column: usize) -> Result<Tok> {
        let mut out = String::new();
        loop {
            let (esc_start, esc_line, esc_column) = (self.pos, self.line, self.column);
            match self.peek() {
                // A line break is taken for a missing quote: strings spell it `\n`.
                None | Some('\n' | '\r') => {
                    let found = format!("unterminated string {}", quote(&self.src[start..self.pos]));
                    return Err(error_at(line, column, found, "a closing `\"` on the same line"));
                }
                Some('"') => {
                    self.bump();
                    return Ok(Tok::Str(out));
                }
                Some('\\') => {
                    self.bump();
                    let c = match self.bump() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('u') => self.unicode_escape(esc_start, esc_line, esc_column)?,
                        _ => {
                            let found = quote(&self.src[esc_start..self.pos]);
                            return Err(error_at(
                                esc_line,
                                esc_column,
                                found,
                                r#"an escape: \", \\, \n, \t, \r or \u{hex}"#,
                            ));
                        }
                    };
                    out.push(c);
                }
                Some(c) => {
                    self.bump();
                    out.push(c);
                }
            }
        }
    }

    /// The `{hex}` of a `\u{hex}` escape; `esc_start` is where its backslash is.
    fn unicode_escape(&mut self, esc_start: usize, line: usize, column: usize) -> Result<char> {
        let src = self.src;
        let mut c = None;
        if self.peek() == Some('{') {
            self.bump();
            let digits = self.pos;
            self.bump_while(|c| c.is_ascii_hexdigit());
            let hex = &src[digits..self.pos];
            if self.peek() == Some('}') {
                self.bump();
                if (1..=6).contains(&hex.len()) {
                    c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                }
            }
        }
        c.ok_or_else(|| {
            error_at(
                line,
                column,
                quote(&src[esc_start..self.pos]),
                r"`\u{hex}` with 1 to 6 hex digits naming a Unicode scalar value",
            )
        })
    }
}

/// `YYYY-MM-DD` exactly, as a valid calendar date.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// One token of lookahead, also where a token taken too early is put back.
    peeked: Option<Token<'a>>,
    /// Levels of `(`, `not`, `where` and time shift open around the current token.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Result<Token<'a>> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next(),
        }
    }

    fn peek(&mut self) -> Result<&Token<'a>> {
        let t = self.next()?;
        Ok(self.peeked.insert(t))
    }

    fn push_back(&mut self, t: Token<'a>) {
        debug_assert!(self.peeked.is_none(), "one token of lookahead");
        self.peeked = Some(t);
    }

    fn eat_kw(&mut self, kw: &str) -> Result<bool> {
        let hit = self.peek()?.is_kw(kw);
        if hit {
            self.next()?;
        }
        Ok(hit)
    }

    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        let t = self.next()?;
        if t.is_kw(kw) {
            Ok(())
        } else {
            Err(unexpected(&t, format!("`{kw}`")))
        }
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> Result<()> {
        let t = self.next()?;
        if t.tok == tok {
            Ok(())
        } else {
            Err(unexpected(&t, expected))
        }
    }

    /// Opens one level of nesting at `t`; the caller closes it with `self.depth -= 1`.
    fn enter(&mut self, t: &Token<'_>) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(error_at(
                t.line,
                t.column,
                format!("{} nesting deeper than {MAX_DEPTH}", describe(t)),
                format!("at most {MAX_DEPTH} levels of nesting (parentheses, `not`, aggregate filters, time shifts)"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn or(&mut self) -> Result<Expr> {
        let first = self.and()?;
        if !self.eat_kw("or")? {
            return Ok(first);
        }
        let mut args = vec![first, self.and()?];
        while self.eat_kw("or")? {
            args.push(self.and()?);
        }
        Ok(Expr::Or { args })
    }

    fn and(&mut self) -> Result<Expr> {
        let first = self.not()?;
        if !self.eat_kw("and")? {
            return Ok(first);
        }
        let mut args = vec![first, self.not()?];
        while self.eat_kw("and")? {
            args.push(self.not()?);
        }
        Ok(Expr::And { args })
    }

    fn not(&mut self) -> Result<Expr> {
        let t = self.next()?;
        if t.is_kw("not") {
            self.enter(&t)?;
            let arg = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not { arg: Box::new(arg) });
        }
        if t.tok == Tok::LParen {
            self.enter(&t)?;
            let e = self.or()?;
            self.expect(Tok::RParen, "`and`, `or` or `)`")?;
            self.depth -= 1;
            return Ok(e);
        }
        if t.is_kw("in") {
            self.expect_kw("segment")?;
            let name = self.next()?;
            return match name.tok {
                Tok::Str(name) => Ok(Expr::InSegment { name }),
                _ => Err(unexpected(&name, "the segment's name in double quotes")),
            };
        }
        self.push_back(t);
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr> {
        let value = self.value("a condition")?;
        let t = self.next()?;
        let cmp = match (&t.tok, t.word().as_deref()) {
            (Tok::Cmp(cmp), _) => Some(*cmp),
            (_, Some("before")) => Some(Cmp::Lt),
            (_, Some("after")) => Some(Cmp::Gt),
            _ => None,
        };
        if let Some(cmp) = cmp {
            return Ok(Expr::Compare { left: value, cmp, right: self.value("a value")? });
        }
        let e = match t.word().as_deref() {
            Some("not") => {
                self.expect_kw("in")?;
                self.expect(Tok::LBracket, "`[`")?;
                Expr::In { value, list: self.list()?, negated: true }
            }
            Some("in") => {
                let next = self.next()?;
                if next.tok == Tok::LBracket {
                    Expr::In { value, list: self.list()?, negated: false }
                } else if matches!(value, Value::Literal { .. }) {
                    // `"vip" in tags`: membership of a literal in a collection.
                    self.push_back(next);
                    Expr::Contains { value: self.value("`[` or a value")?, item: value }
                } else {
                    return Err(unexpected(&next, "`[`"));
                }
            }
            Some("contains") => Expr::Contains { value, item: self.value("a value")? },
            Some("starts") => {
                self.expect_kw("with")?;
                Expr::StartsWith { value, prefix: self.value("a value")? }
            }
            Some("is") => {
                let negated = self.eat_kw("not")?;
                let null = self.next()?;
                if !null.is_kw("null") {
                    return Err(unexpected(&null, if negated { "`null`" } else { "`null` or `not null`" }));
                }
                Expr::IsNull { value, negated }
            }
            Some("within") => Expr::Within { value, span: self.span()? },
            Some("between") => {
                let low = self.value("a value")?;
                self.expect_kw("and")?;
                Expr::Between { value, low, high: self.value("a value")? }
            }
            _ => match value {
                // `true` or `false` with no operator after it is a condition.
                Value::Literal { value: Literal::Bool(b) } => {
                    self.push_back(t);
                    Expr::Bool { value: b }
                }
                _ => return Err(unexpected(&t, EXPECT_PREDICATE)),
            },
        };
        Ok(e)
    }

    /// The literals of `in [...]`; the `[` is consumed.
    fn list(&mut self) -> Result<Vec<Literal>> {
        let mut list = Vec::new();
        loop {
            list.push(self.literal("a literal")?);
            let t = self.next()?;
            match t.tok {
                Tok::Comma => {}
                Tok::RBracket => return Ok(list),
                _ => return Err(unexpected(&t, "`,` or `]`")),
            }
        }
    }

    fn value(&mut self, expected: &str) -> Result<Value> {
        let mut value = self.primary(expected)?;
        let outer = self.depth;
        loop {
            let t = self.next()?;
            let sign = match t.tok {
                Tok::Plus => Sign::Plus,
                Tok::Minus => Sign::Minus,
                _ => {
                    self.push_back(t);
                    break;
                }
            };
            self.enter(&t)?;
            value = Value::Shift { base: Box::new(value), sign, span: self.span()? };
        }
        self.depth = outer;
        Ok(value)
    }

    fn primary(&mut self, expected: &str) -> Result<Value> {
        let t = self.next()?;
        let Some(word) = t.word() else {
            return match t.tok {
                Tok::Ident => Ok(Value::Field { name: t.text.to_owned() }),
                Tok::Number | Tok::Minus | Tok::Str(_) | Tok::Date(_) | Tok::Time(_) => {
                    self.push_back(t);
                    Ok(Value::Literal { value: self.literal(expected)? })
                }
                _ => Err(unexpected(&t, expected)),
            };
        };
        match word.as_str() {
            "true" | "false" | "nan" | "inf" | "infinity" => {
                self.push_back(t);
                return Ok(Value::Literal { value: self.literal(expected)? });
            }
            w if is_keyword(w) => return Err(unexpected(&t, expected)),
            _ => {}
        }
        // A name is a function only when `(` follows: a field may be called `count` or `now`.
        if self.peek()?.tok != Tok::LParen {
            return Ok(Value::Field { name: t.text.to_owned() });
        }
        let func = match word.as_str() {
            "now" => {
                self.next()?;
                self.expect(Tok::RParen, "`)`")?;
                return Ok(Value::Now);
            }
            "count" => AggFunc::Count,
            "sum" => AggFunc::Sum,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            _ => return Ok(Value::Field { name: t.text.to_owned() }),
        };
        self.next()?;
        self.aggregate(func)
    }

    /// `count(orders where ... within ...)` after the `(`.
    fn aggregate(&mut self, func: AggFunc) -> Result<Value> {
        let t = self.next()?;
        let (name, field) = match t.text.split_once('.') {
            Some((name, field)) => (name, Some(field.to_owned())),
            None => (t.text, None),
        };
        let source = match name.to_ascii_lowercase().as_str() {
            _ if t.tok != Tok::Ident => None,
            "orders" => Some(Source::Orders),
            "all_orders" => Some(Source::AllOrders),
            "items" => Some(Source::Items),
            "interactions" => Some(Source::Interactions),
            _ => None,
        }
        .ok_or_else(|| unexpected(&t, EXPECT_SOURCE))?;
        let mut filter = None;
        let mut within = None;
        let mut expected = "`where`, `within` or `)`";
        let mut t = self.next()?;
        if t.is_kw("where") {
            self.enter(&t)?;
            filter = Some(Box::new(self.or()?));
            self.depth -= 1;
            expected = "`and`, `or`, `within` or `)`";
            t = self.next()?;
        }
        if t.is_kw("within") {
            within = Some(self.span()?);
            expected = "`)`";
            t = self.next()?;
        }
        if t.tok != Tok::RParen {
            return Err(unexpected(&t, expected));
        }
        Ok(Value::Aggregate { func, source, field, filter, within })
    }

    fn span(&mut self) -> Result<Span> {
        let t = self.next()?;
        let count = (t.tok == Tok::Number && t.text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.text.parse::<i64>().ok())
            .flatten()
            .filter(|n| *n <= MAX_SPAN)
            .ok_or_else(|| unexpected(&t, format!("a count from 0 to {MAX_SPAN}")))?;
        let t = self.next()?;
        let unit = match t.word().as_deref() {
            Some("hour" | "hours") => Unit::Hours,
            Some("day" | "days") => Unit::Days,
            Some("week" | "weeks") => Unit::Weeks,
            Some("month" | "months") => Unit::Months,
            Some("year" | "years") => Unit::Years,
            _ => return Err(unexpected(&t, EXPECT_UNIT)),
        };
        Ok(Span { count, unit })
    }

    fn literal(&mut self, expected: &str) -> Result<Literal> {
        let t = self.next()?;
        match t.tok {
            Tok::Str(s) => Ok(Literal::Text(s)),
            Tok::Date(d) => Ok(Literal::Date(d)),
            Tok::Time(time) => Ok(Literal::Time(time)),
            Tok::Number => self.number(&t, t.text.to_owned()),
            Tok::Minus => {
                let n = self.next()?;
                match n.tok {
                    Tok::Number => self.number(&t, format!("-{}", n.text)),
                    _ if is_non_finite(&n) => Err(unexpected(&n, "a finite number")),
                    _ => Err(unexpected(&n, "a number")),
                }
            }
            _ if t.is_kw("true") => Ok(Literal::Bool(true)),
            _ if t.is_kw("false") => Ok(Literal::Bool(false)),
            _ if is_non_finite(&t) => Err(unexpected(&t, "a finite number")),
            _ => Err(unexpected(&t, expected)),
        }
    }

    /// A number whose text (with its sign) starts at `at`: money when a currency code follows,
    /// a float when it has a fraction or exponent, otherwise an integer.
    fn number(&mut self, at: &Token<'_>, text: String) -> Result<Literal> {
        let bad = |expected: String| error_at(at.line, at.column, quote(&text), expected);
        let code = self.peek()?;
        let maybe_code = code.tok == Tok::Ident
            && code.text.len() == 3
            && code.text.bytes().all(|b| b.is_ascii_alphabetic())
            && !is_keyword(code.text);
        if maybe_code {
            let upper = code.text.to_ascii_uppercase();
            let upper_case = code.text == upper;
            match Currency::new(&upper) {
                Ok(currency) if upper_case => {
                    self.next()?;
                    return money(&text, currency)
                        .map_err(|expected| error_at(at.line, at.column, quote(&format!("{text} {upper}")), expected));
                }
                Ok(_) => return Err(unexpected(code, format!("an upper-case currency code (`{upper}`)"))),
                Err(_) if upper_case => return Err(unexpected(code, "an ISO 4217 currency code")),
                Err(_) => {}
            }
        }
        if text.contains(['.', 'e', 'E']) {
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Literal::Float(x)),
                _ => Err(bad("a finite number".to_owned())),
            }
        } else {
            text.parse::<i64>()
                .map(Literal::Int)
                .map_err(|_| bad(format!("an integer from {} to {}", i64::MIN, i64::MAX)))
        }
    }
}

fn is_non_finite(t: &Token<'_>) -> bool {
    t.word().is_some_and(|w| NON_FINITE.contains(&w.as_str()))
}

/// Money from a decimal amount and its code, or what was expected instead.
fn money(text: &str, currency: Currency) -> std::result::Result<Literal, String> {
    let digits = currency.minor_digits() as usize;
    if text.contains(['e', 'E']) {
        return Err(format!("a decimal amount such as `12.50 {currency}`"));
    }
    let decimals = text.split_once('.').map_or(0, |(_, frac)| frac.len());
    if decimals > digits {
        return Err(match digits {
            0 => format!("a whole amount ({currency} has no minor unit)"),
            1 => format!("at most 1 decimal place for {currency}"),
            _ => format!("at most {digits} decimal places for {currency}"),
        });
    }
    Money::parse_decimal(text, currency)
        .map(|m| Literal::Money { minor: m.minor, currency })
        .map_err(|_| format!("an amount of at most {MAX_MINOR} minor units"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Tok> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let t = lexer.next().unwrap();
            if t.tok == Tok::Eof {
                return out;
            }
            out.push(t.tok);
        }
    }

    fn parse_error(text: &str) -> (usize, usize, String, String) {
        match parse(text) {
            Err(Error::Parse { line, column, found, expected }) => (line, column, found, expected),
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn lexer_splits_names_numbers_dates_and_operators() {
        use Tok::*;
        assert_eq!(tokens("rfm.segment!=-5"), [Ident, Cmp(super::Cmp::Ne), Minus, Number]);
        assert_eq!(tokens("now()-30 days"), [Ident, LParen, RParen, Minus, Number, Ident]);
        assert_eq!(tokens("1e3 2.5E-3 5EUR"), [Number, Number, Number, Ident]);
        assert_eq!(tokens("a<=b # c >= d\n>"), [Ident, Cmp(super::Cmp::Le), Ident, Cmp(super::Cmp::Gt)]);
        let date = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        assert_eq!(tokens("2026-01-31"), [Date(date)]);
        let time = date.and_hms_opt(4, 0, 0).unwrap().and_utc();
        assert_eq!(tokens("2026-01-31T12:00:00+08:00"), [Time(time)]);
        assert_eq!(tokens(r#""a\"\\\n\t\r\u{1F600}#""#), [Str("a\"\\\n\t\r😀#".into())]);
        let leap = tokens("2016-12-31T23:59:60.25Z");
        let [Time(t)] = &leap[..] else { panic!("{leap:?}") };
        assert_eq!(parse(&format!("x = {}", Literal::Time(*t))).unwrap().to_string(), "x = 2016-12-31T23:59:60.25Z");
        assert_eq!(
            parse_error("x = 0000-01-01T00:00:00+01:00"),
            (1, 5, "`0000-01-01T00:00:00+01:00`".into(), "a time within the years 0000 to 9999 in UTC".into())
        );
        assert!(parse("x = 9999-12-31T23:59:59-01:00").is_err());
    }

    #[test]
    fn positions_count_characters_and_lines() {
        assert_eq!(parse_error("x = 1 and\n\t\"é\" = é"), (2, 8, "`é`".into(), "a value".into()));
        assert_eq!(parse_error("a."), (1, 1, "`a.`".into(), "a name after `.`".into()));
        assert_eq!(parse_error("x = 5."), (1, 5, "`5.`".into(), "digits after the decimal point".into()));
    }

    #[test]
    fn escapes_are_checked() {
        let (line, column, found, _) = parse_error(r#"x = "ab\q""#);
        assert_eq!((line, column, found.as_str()), (1, 8, r"`\q`"));
        for bad in [r#""\u{d800}""#, r#""\u{110000}""#, r#""\u{}""#, r#""\u12""#, r#""\u{1234567}""#] {
            let (_, column, _, expected) = parse_error(&format!("x = {bad}"));
            assert_eq!(column, 6, "{bad}");
            assert!(expected.contains("hex digits"), "{bad}: {expected}");
        }
    }

    #[test]
    fn money_is_exact_in_the_currency_digits() {
        let m = |text: &str| match parse(&format!("x = {text}")).unwrap() {
            Expr::Compare { right: Value::Literal { value: Literal::Money { minor, currency } }, .. } => {
                (minor, currency.code())
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(m("1000.00 CNY"), (100_000, "CNY"));
        assert_eq!(m("1000 CNY"), (100_000, "CNY"));
        assert_eq!(m("5.5 USD"), (550, "USD"));
        assert_eq!(m("-5.00 USD"), (-500, "USD"));
        assert_eq!(m("500 JPY"), (500, "JPY"));
        assert_eq!(m("1.234 KWD"), (1234, "KWD"));
        assert_eq!(
            parse_error("x = 1.005 USD"),
            (1, 5, "`1.005 USD`".into(), "at most 2 decimal places for USD".into())
        );
        assert_eq!(parse_error("x = 5.5 JPY").3, "a whole amount (JPY has no minor unit)");
        assert_eq!(parse_error("x = 1e3 USD").3, "a decimal amount such as `12.50 USD`");
        assert_eq!(
            parse_error("x = 5 usd"),
            (1, 7, "identifier `usd`".into(), "an upper-case currency code (`USD`)".into())
        );
        assert_eq!(parse_error("x = 5 XYZ").3, "an ISO 4217 currency code");
        assert!(parse_error("x = 10000000000000.01 USD").3.starts_with("an amount of at most"));
    }

    #[test]
    fn numbers_must_fit() {
        assert_eq!(
            parse("x = -9223372036854775808").unwrap(),
            Expr::Compare {
                left: Value::Field { name: "x".into() },
                cmp: Cmp::Eq,
                right: Value::Literal { value: Literal::Int(i64::MIN) }
            }
        );
        assert_eq!(parse_error("x = 9223372036854775808").1, 5);
        assert_eq!(parse_error("x = 1e999"), (1, 5, "`1e999`".into(), "a finite number".into()));
        assert_eq!(parse_error("x = NaN"), (1, 5, "identifier `NaN`".into(), "a finite number".into()));
        assert_eq!(parse_error("x = -inf"), (1, 6, "identifier `inf`".into(), "a finite number".into()));
    }

    #[test]
    fn true_is_a_condition_unless_an_operator_follows() {
        assert_eq!(parse("TRUE").unwrap(), Expr::Bool { value: true });
        assert!(matches!(parse("true = x").unwrap(), Expr::Compare { .. }));
        assert!(matches!(parse("false within 3 days").unwrap(), Expr::Within { .. }));
        assert!(matches!(parse("true in tags").unwrap(), Expr::Contains { .. }));
        assert_eq!(parse_error("true + 1 day").3, EXPECT_PREDICATE);
    }
}
