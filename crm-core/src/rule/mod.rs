//! The rule language shared by segments, scoring plans, lifecycle and value-tier rules and
//! loyalty conditions: a text form for people and a JSON form (serde) for programs.
//!
//! ```text
//! country in ["CN", "SG"] and total_spent >= 1000.00 CNY
//!   and last_order_at within 90 days and "vip" in tags
//!   and count(orders where category = "shoes" within 180 days) >= 2
//! ```

mod ast;
mod parse;
mod print;

pub use ast::{AggFunc, Cmp, Expr, Literal, Sign, Source, Span, Unit, Value, MAX_DEPTH};
pub use parse::parse;
