//! The C API as a C host drives it: a sequence of `crm_*` calls on a fresh in-memory handle
//! (`crm_open_in_memory`, with the fixture's records), with fuzzed string arguments (NULL,
//! known keys, arbitrary bytes including invalid UTF-8 and embedded NULs, strings at and past
//! the documented length limits), fuzzed ids, times and limits, NULL out-parameters, and NULL,
//! closed or never-issued handles. Every call returns a status that is not a caught panic and
//! not a storage-engine error, with a message on failure; every string and cursor the library
//! hands out is freed with the function the header names.
#![no_main]

use std::ffi::{c_char, CStr, CString};
use std::mem::zeroed;
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use crm::convert::CRM_MAX_STRING_LEN;
use crm::customers::*;
use crm::error::crm_status::{self, *};
use crm::feed::*;
use crm::handle::{crm_close, crm_open, crm_open_in_memory, crm_t};
use crm::identity::*;
use crm::interactions::*;
use crm::loyalty::*;
use crm::orders::*;
use crm::rfm::*;
use crm::rules::*;
use crm::segments::*;
use crm_fuzz::c::{check, cstr, open_fixture, take};
use libfuzzer_sys::fuzz_target;

/// Strings that mean something to the fixture, so that calls get past "not found".
const KNOWN: &[&str] = &[
    "",
    "C1",
    "C2",
    "C3",
    "O1",
    "O2",
    "O3",
    "I1",
    "buyers",
    "vip",
    "p",
    "USD",
    "EUR",
    "CNY",
    "JPY",
    "XXX",
    "shop",
    "crm",
    "sign_up",
    "birthday",
    "first_order",
    "survey_answered",
    "referral",
    "gold",
    "pending",
    "accepted",
    "rejected",
    "order_count > 0",
    r#""vip" in tags"#,
    r#"in segment "buyers""#,
    "score.p > 2",
    "total_spent >= 100.00 USD",
    "count(orders within 30 days) >= 1",
    "Ada",
    "ada@example.com",
    "+44 20 7946 0958",
    "GB",
    "C1\u{301}",
    "ＣＩ",
];

/// A string argument.
#[derive(Debug)]
enum Str {
    Null,
    Known(&'static str),
    Bytes(Vec<u8>),
    /// `n` bytes of `a`: at or just past `CRM_MAX_STRING_LEN`, or past the core's field limits.
    Long(usize),
}

impl<'a> Arbitrary<'a> for Str {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Str> {
        Ok(match u.int_in_range(0u8..=15)? {
            0 => Str::Null,
            1..=8 => Str::Known(u.choose(KNOWN)?),
            9..=14 => Str::Bytes(Vec::arbitrary(u)?),
            _ => Str::Long(*u.choose(&[65, 256, 257, 4097, CRM_MAX_STRING_LEN, CRM_MAX_STRING_LEN + 1])?),
        })
    }
}

impl Str {
    /// The argument's bytes, kept alive for the call; `None` for NULL.
    fn c(&self) -> Option<CString> {
        match self {
            Str::Null => None,
            Str::Known(s) => Some(cstr(s.as_bytes())),
            Str::Bytes(b) => Some(cstr(b)),
            Str::Long(n) => Some(CString::new(vec![b'a'; *n]).unwrap()),
        }
    }
}

fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(null(), |s| s.as_ptr())
}

/// An id: the fixture's (1..=4), a few past them, or the extremes.
#[derive(Debug, Clone, Copy)]
struct Id(i64);

impl<'a> Arbitrary<'a> for Id {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Id> {
        Ok(Id(match u.int_in_range(0u8..=11)? {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => -1,
            3 => 0,
            4 => i64::arbitrary(u)?,
            n => i64::from(n - 4),
        }))
    }
}

/// A time in microseconds: "no time", recent, the extremes, or anything.
#[derive(Debug, Clone, Copy)]
struct Time(i64);

impl<'a> Arbitrary<'a> for Time {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Time> {
        const JAN_2026: i64 = 1_767_225_600_000_000;
        Ok(Time(match u.int_in_range(0u8..=6)? {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => 0,
            3 => JAN_2026 + i64::from(i32::arbitrary(u)?) * 1_000_000,
            4 => 253_402_300_800_000_000, // year 10000
            _ => i64::arbitrary(u)?,
        }))
    }
}

/// A page size or limit: small, 0, or huge.
#[derive(Debug, Clone, Copy)]
struct Limit(usize);

impl<'a> Arbitrary<'a> for Limit {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Limit> {
        Ok(Limit(match u.int_in_range(0u8..=5)? {
            0 => 0,
            1 => usize::MAX,
            2 => 100_001,
            _ => usize::from(u8::arbitrary(u)?),
        }))
    }
}

/// Which handle a call gets.
#[derive(Debug, Arbitrary, Clone, Copy)]
enum Handle {
    Live,
    Live2,
    Live3,
    Null,
    Closed,
    NeverIssued,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Open(u8, bool),
    Close,
    CustomerGet(Handle, Id),
    CustomerGetByExternalId(Handle, Str),
    CustomerIdByExternalId(Handle, Str, bool),
    CustomerDelete(Handle, Id),
    CustomerSearch(Handle, Str, Limit),
    CustomerTopBySpend(Handle, Str, Limit),
    CustomerTimeline(Handle, Id, Limit, Str),
    CustomerStatsGet(Handle, Id, bool),
    CustomerStatsJson(Handle, Id),
    CustomerUpsertBasic(Handle, [Str; 6], bool),
    OrderRecord(Handle, Str, Id, Str, Time, i32, Str, i64, Str, Vec<(Str, Str, i64, i64)>, bool),
    OrderGet(Handle, Id),
    OrderGetByExternalId(Handle, Str),
    OrderIdByExternalId(Handle, Str),
    OrderDelete(Handle, Id),
    OrderSetStatus(Handle, Str, i32),
    OrderRefunds(Handle, Id),
    InteractionGet(Handle, Id),
    InteractionIdByExternalId(Handle, Str),
    InteractionDelete(Handle, Id),
    PointsEarn(Handle, Id, i64, Str, Time),
    PointsRedeem(Handle, Id, i64, Str),
    PointsRedeemAt(Handle, Id, i64, Str, Time),
    PointsAdjust(Handle, Id, i64, Str, Str),
    PointsAwardEvent(Handle, Id, Str, Str, Time),
    PointsBalance(Handle, Id),
    PointsBalanceAsOf(Handle, Id, Time),
    PointsExpire(Handle, Time, bool),
    LoyaltyLiability(Handle, u32),
    PointsStatement(Handle, Id),
    LoyaltyTierSet(Handle, Id, Str),
    LoyaltyTiersReview(Handle, Time),
    LoyaltyTierHistory(Handle, Id),
    LoyaltyProgramSet(Handle, Str, bool),
    LoyaltyProgramGet(Handle),
    RuleParse(Str),
    RuleFormat(Str),
    RuleCheck(Handle, Str),
    RuleCount(Handle, Str, Time),
    RuleMembers(Handle, Str, Time, Id, u8),
    RuleMatches(Handle, Id, Str),
    RuleMatchesAt(Handle, Id, Str, Time),
    SegmentCreate(Handle, Str),
    SegmentDelete(Handle, Str),
    SegmentGet(Handle, Str),
    SegmentList(Handle),
    SegmentCount(Handle, Str),
    SegmentMembers(Handle, Str, Id, u8),
    SegmentIsMember(Handle, Id, Str),
    SegmentAddMembers(Handle, Str, Vec<Id>),
    SegmentRemoveMembers(Handle, Str, Vec<Id>),
    SegmentSnapshot(Handle, Str),
    ScoringPlanList(Handle),
    ScoringPlanDelete(Handle, Str),
    ScoreGet(Handle, Id, Str),
    ScoreAll(Handle, Str),
    LifecycleRulesGet(Handle),
    LifecycleRefresh(Handle, Time),
    LifecycleHistory(Handle, Id),
    TierConfigGet(Handle),
    TierRefresh(Handle, Time),
    TierGet(Handle, Id),
    TierHistory(Handle, Id),
    RfmModel(Handle),
    RfmOf(Handle, Id),
    RfmOfTyped(Handle, Id),
    RfmScore(Handle, Id, Time),
    RfmScoreTyped(Handle, Id, Time),
    RfmSegmentSizes(Handle),
    ChangesSince(Handle, Id, Limit),
    CountsGet(Handle),
    ChangeCursor(Handle, Id, Limit, u8),
    CustomerCursor(Handle, Str, u8),
    MatchSuggestions(Handle, Str, Id, Limit),
    MatchSuggestionResolve(Handle, Id, Str),
    MatchKeysEnsure(Handle),
    MatchPolicyGet(Handle),
    MatchModelGet(Handle),
    CustomerGetByIdentity(Handle, Str, Str),
    IdentityAdd(Handle, Id, Str, Str),
    IdentityRemove(Handle, Str, Str),
    CustomerIdentities(Handle, Id),
    CustomerMergeHistory(Handle, Id),
    CustomerMerge(Handle, Id, Id, Str),
    StatusName(i32),
    EntityName(i32),
    OpName(i32),
}

static FIXTURE: OnceLock<usize> = OnceLock::new();

/// A handle opened and closed once: its token is never reused, so it stays closed.
static CLOSED: OnceLock<usize> = OnceLock::new();

fn closed() -> *const crm_t {
    *CLOSED.get_or_init(|| unsafe {
        let mut h = null_mut();
        assert_eq!(crm_open_in_memory(&mut h), CRM_OK);
        assert_eq!(crm_close(h), CRM_OK);
        h as usize
    }) as *const crm_t
}

struct Handles {
    live: Vec<*mut crm_t>,
}

impl Handles {
    fn get(&self, h: Handle) -> *const crm_t {
        match h {
            Handle::Live => self.live.first().copied().unwrap_or(null_mut()),
            Handle::Live2 => self.live.get(1).copied().unwrap_or(null_mut()),
            Handle::Live3 => self.live.last().copied().unwrap_or(null_mut()),
            Handle::Null => null(),
            Handle::Closed => closed(),
            Handle::NeverIssued => usize::MAX as *const crm_t,
        }
    }
}

fn out_json(what: &str, f: impl FnOnce(*mut *mut c_char) -> crm_status) {
    let mut out = null_mut();
    let st = check(f(&mut out), what);
    if st == CRM_OK {
        take(out);
    } else {
        assert!(out.is_null(), "{what}: out-parameter set on failure");
    }
}

fn st(what: &str, s: crm_status) {
    check(s, what);
}

/// A static, NUL-terminated name (never freed): UTF-8 and not empty.
fn name(p: *const c_char) {
    assert!(!p.is_null());
    let s = unsafe { CStr::from_ptr(p) }.to_str().expect("UTF-8 name");
    assert!(!s.is_empty());
}

fn ids(v: &[Id]) -> Vec<i64> {
    v.iter().map(|i| i.0).collect()
}

unsafe fn run(h: &mut Handles, op: Op) {
    let what: String = format!("{op:?}").chars().take(200).collect();
    let what = what.as_str();
    match op {
        Op::Open(255, memory) => {
            let mut new = null_mut();
            let s = if memory { crm_open(c":memory:".as_ptr(), &mut new) } else { crm_open_in_memory(&mut new) };
            if check(s, what) == CRM_OK && h.live.len() < 3 {
                h.live.push(new);
            } else if s == CRM_OK {
                assert_eq!(crm_close(new), CRM_OK);
            }
        }
        // Opening a database runs its migrations (a fraction of a second under ASan): rare;
        // the other openings are the refused ones.
        Op::Open(n, _) => {
            let mut new = null_mut();
            match n % 3 {
                0 => assert_eq!(crm_open(c":memory:".as_ptr(), null_mut()), CRM_ERR_NULL_ARGUMENT),
                1 => assert_eq!(crm_open(null(), &mut new), CRM_ERR_NULL_ARGUMENT),
                _ => assert_eq!(crm_open(c"\xff.db".as_ptr(), &mut new), CRM_ERR_INVALID_UTF8),
            }
            assert!(new.is_null(), "out-parameter set on failure");
        }
        Op::Close => {
            // The first handle is the shared fixture: never closed.
            if let Some(x) = if h.live.len() > 1 { h.live.pop() } else { None } {
                assert_eq!(crm_close(x), CRM_OK);
                assert_eq!(crm_close(x), CRM_ERR_INVALID_HANDLE, "closing twice");
            } else {
                assert_eq!(crm_close(null_mut()), CRM_OK, "NULL is a no-op");
            }
        }
        Op::CustomerGet(c, id) => out_json(what, |o| crm_customer_get(h.get(c), id.0, o)),
        Op::CustomerGetByExternalId(c, s) => {
            let s = s.c();
            out_json(what, |o| crm_customer_get_by_external_id(h.get(c), ptr(&s), o))
        }
        Op::CustomerIdByExternalId(c, s, null_out) => {
            let s = s.c();
            let mut id = 0i64;
            let out = if null_out { null_mut() } else { &mut id as *mut i64 };
            st(what, crm_customer_id_by_external_id(h.get(c), ptr(&s), out))
        }
        Op::CustomerDelete(c, id) => st(what, crm_customer_delete(h.get(c), id.0)),
        Op::CustomerSearch(c, s, l) => {
            let s = s.c();
            out_json(what, |o| crm_customer_search(h.get(c), ptr(&s), l.0, o))
        }
        Op::CustomerTopBySpend(c, s, l) => {
            let s = s.c();
            out_json(what, |o| crm_customer_top_by_spend(h.get(c), ptr(&s), l.0, o))
        }
        Op::CustomerTimeline(c, id, l, cur) => {
            let cur = cur.c();
            out_json(what, |o| crm_customer_timeline(h.get(c), id.0, l.0, ptr(&cur), o))
        }
        Op::CustomerStatsGet(c, id, null_out) => {
            let mut out: crm_customer_stats = zeroed();
            let p = if null_out { null_mut() } else { &mut out as *mut _ };
            st(what, crm_customer_stats_get(h.get(c), id.0, p))
        }
        Op::CustomerStatsJson(c, id) => out_json(what, |o| crm_customer_stats_json(h.get(c), id.0, o)),
        Op::CustomerUpsertBasic(c, f, null_in) => {
            let f: Vec<_> = f.iter().map(Str::c).collect();
            let input = crm_customer_in {
                external_id: ptr(&f[0]),
                name: ptr(&f[1]),
                email: ptr(&f[2]),
                phone: ptr(&f[3]),
                company: ptr(&f[4]),
                country: ptr(&f[5]),
            };
            let (mut id, mut outcome) = (0, crm_outcome::CRM_OUTCOME_UNCHANGED);
            let p = if null_in { null() } else { &input as *const _ };
            st(what, crm_customer_upsert_basic(h.get(c), p, &mut id, &mut outcome))
        }
        Op::OrderRecord(c, ext, cid, cext, at, status, cur, total, channel, items, null_items) => {
            let (ext, cext, cur, channel) = (ext.c(), cext.c(), cur.c(), channel.c());
            let strs: Vec<_> = items.iter().map(|(s, k, _, _)| (s.c(), k.c())).collect();
            let items: Vec<_> = items
                .iter()
                .zip(&strs)
                .map(|((_, _, q, p), (s, k))| crm_line_item_in {
                    sku: ptr(s),
                    category: ptr(k),
                    quantity: *q,
                    unit_price_minor: *p,
                })
                .collect();
            let order = crm_order_in {
                external_id: ptr(&ext),
                customer_id: cid.0,
                customer_external_id: ptr(&cext),
                occurred_at_us: at.0,
                status,
                currency: ptr(&cur),
                total_minor: total,
                channel: ptr(&channel),
            };
            let (mut id, mut outcome) = (0, crm_outcome::CRM_OUTCOME_UNCHANGED);
            let p = if null_items { null() } else { items.as_ptr() };
            st(what, crm_order_record(h.get(c), &order, p, items.len(), &mut id, &mut outcome))
        }
        Op::OrderGet(c, id) => out_json(what, |o| crm_order_get(h.get(c), id.0, o)),
        Op::OrderGetByExternalId(c, s) => {
            let s = s.c();
            out_json(what, |o| crm_order_get_by_external_id(h.get(c), ptr(&s), o))
        }
        Op::OrderIdByExternalId(c, s) => {
            let s = s.c();
            let mut id = 0;
            st(what, crm_order_id_by_external_id(h.get(c), ptr(&s), &mut id))
        }
        Op::OrderDelete(c, id) => st(what, crm_order_delete(h.get(c), id.0)),
        Op::OrderSetStatus(c, s, status) => {
            let s = s.c();
            st(what, crm_order_set_status(h.get(c), ptr(&s), status, null_mut()))
        }
        Op::OrderRefunds(c, id) => out_json(what, |o| crm_order_refunds(h.get(c), id.0, o)),
        Op::InteractionGet(c, id) => out_json(what, |o| crm_interaction_get(h.get(c), id.0, o)),
        Op::InteractionIdByExternalId(c, s) => {
            let s = s.c();
            let mut id = 0;
            st(what, crm_interaction_id_by_external_id(h.get(c), ptr(&s), &mut id))
        }
        Op::InteractionDelete(c, id) => st(what, crm_interaction_delete(h.get(c), id.0)),
        Op::PointsEarn(c, id, pts, key, at) => {
            let key = key.c();
            let (mut bal, mut rep) = (0, false);
            st(what, crm_points_earn(h.get(c), id.0, pts, ptr(&key), at.0, &mut bal, &mut rep))
        }
        Op::PointsRedeem(c, id, pts, key) => {
            let key = key.c();
            let mut bal = 0;
            st(what, crm_points_redeem(h.get(c), id.0, pts, ptr(&key), &mut bal))
        }
        Op::PointsRedeemAt(c, id, pts, key, at) => {
            let key = key.c();
            st(what, crm_points_redeem_at(h.get(c), id.0, pts, ptr(&key), at.0, null_mut()))
        }
        Op::PointsAdjust(c, id, pts, key, reason) => {
            let (key, reason) = (key.c(), reason.c());
            st(what, crm_points_adjust(h.get(c), id.0, pts, ptr(&key), ptr(&reason), null_mut(), null_mut()))
        }
        Op::PointsAwardEvent(c, id, ev, key, at) => {
            let (ev, key) = (ev.c(), key.c());
            let (mut aw, mut bal, mut rep) = (false, 0, false);
            st(what, crm_points_award_event(h.get(c), id.0, ptr(&ev), ptr(&key), at.0, &mut aw, &mut bal, &mut rep))
        }
        Op::PointsBalance(c, id) => {
            let (mut b, mut a) = (0, 0);
            st(what, crm_points_balance(h.get(c), id.0, &mut b, &mut a))
        }
        Op::PointsBalanceAsOf(c, id, at) => {
            let mut b = 0;
            st(what, crm_points_balance_as_of(h.get(c), id.0, at.0, &mut b))
        }
        Op::PointsExpire(c, at, dry) => {
            let (mut l, mut p) = (0, 0);
            if dry {
                st(what, crm_points_expire_dry_run(h.get(c), at.0, &mut l, &mut p))
            } else {
                st(what, crm_points_expire(h.get(c), at.0, &mut l, &mut p))
            }
        }
        Op::LoyaltyLiability(c, days) => out_json(what, |o| crm_loyalty_liability(h.get(c), days, o)),
        Op::PointsStatement(c, id) => out_json(what, |o| crm_points_statement(h.get(c), id.0, o)),
        Op::LoyaltyTierSet(c, id, t) => {
            let t = t.c();
            st(what, crm_loyalty_tier_set(h.get(c), id.0, ptr(&t)))
        }
        Op::LoyaltyTiersReview(c, at) => {
            st(what, crm_loyalty_tiers_review(h.get(c), at.0, null_mut(), null_mut(), null_mut()))
        }
        Op::LoyaltyTierHistory(c, id) => out_json(what, |o| crm_loyalty_tier_history(h.get(c), id.0, o)),
        Op::LoyaltyProgramSet(c, p, toml) => {
            let p = p.c();
            st(what, crm_loyalty_program_set(h.get(c), ptr(&p), toml))
        }
        Op::LoyaltyProgramGet(c) => out_json(what, |o| crm_loyalty_program_get(h.get(c), o)),
        Op::RuleParse(r) => {
            let r = r.c();
            out_json(what, |o| crm_rule_parse(ptr(&r), o))
        }
        Op::RuleFormat(r) => {
            let r = r.c();
            out_json(what, |o| crm_rule_format(ptr(&r), o))
        }
        Op::RuleCheck(c, r) => {
            let r = r.c();
            st(what, crm_rule_check(h.get(c), ptr(&r)))
        }
        Op::RuleCount(c, r, at) => {
            let r = r.c();
            let mut n = 0;
            st(what, crm_rule_count(h.get(c), ptr(&r), at.0, &mut n))
        }
        Op::RuleMembers(c, r, at, after, room) => {
            let r = r.c();
            let mut buf = vec![0i64; usize::from(room)];
            let mut len = 0;
            let s = crm_rule_members(h.get(c), ptr(&r), at.0, after.0, buf.as_mut_ptr(), buf.len(), &mut len);
            if check(s, what) == CRM_OK {
                assert!(len <= buf.len());
            }
        }
        Op::RuleMatches(c, id, r) => {
            let r = r.c();
            let mut m = false;
            st(what, crm_rule_matches(h.get(c), id.0, ptr(&r), &mut m))
        }
        Op::RuleMatchesAt(c, id, r, at) => {
            let r = r.c();
            let mut m = false;
            st(what, crm_rule_matches_at(h.get(c), id.0, ptr(&r), at.0, &mut m))
        }
        Op::SegmentCreate(c, s) => {
            let s = s.c();
            out_json(what, |o| crm_segment_create(h.get(c), ptr(&s), o))
        }
        Op::SegmentDelete(c, s) => {
            let s = s.c();
            st(what, crm_segment_delete(h.get(c), ptr(&s)))
        }
        Op::SegmentGet(c, s) => {
            let s = s.c();
            out_json(what, |o| crm_segment_get(h.get(c), ptr(&s), o))
        }
        Op::SegmentList(c) => out_json(what, |o| crm_segment_list(h.get(c), o)),
        Op::SegmentCount(c, s) => {
            let s = s.c();
            let mut n = 0;
            st(what, crm_segment_count(h.get(c), ptr(&s), &mut n))
        }
        Op::SegmentMembers(c, s, after, room) => {
            let s = s.c();
            let mut buf = vec![0i64; usize::from(room)];
            let mut len = 0;
            let r = crm_segment_members(h.get(c), ptr(&s), after.0, buf.as_mut_ptr(), buf.len(), &mut len);
            if check(r, what) == CRM_OK {
                assert!(len <= buf.len());
            }
        }
        Op::SegmentIsMember(c, id, s) => {
            let s = s.c();
            let mut m = false;
            st(what, crm_segment_is_member(h.get(c), id.0, ptr(&s), &mut m))
        }
        Op::SegmentAddMembers(c, s, v) => {
            let s = s.c();
            let v = ids(&v);
            let mut n = 0;
            st(what, crm_segment_add_members(h.get(c), ptr(&s), v.as_ptr(), v.len(), &mut n))
        }
        Op::SegmentRemoveMembers(c, s, v) => {
            let s = s.c();
            let v = ids(&v);
            let mut n = 0;
            st(what, crm_segment_remove_members(h.get(c), ptr(&s), v.as_ptr(), v.len(), &mut n))
        }
        Op::SegmentSnapshot(c, s) => {
            let s = s.c();
            out_json(what, |o| crm_segment_snapshot(h.get(c), ptr(&s), o))
        }
        Op::ScoringPlanList(c) => out_json(what, |o| crm_scoring_plan_list(h.get(c), o)),
        Op::ScoringPlanDelete(c, s) => {
            let s = s.c();
            st(what, crm_scoring_plan_delete(h.get(c), ptr(&s)))
        }
        Op::ScoreGet(c, id, s) => {
            let s = s.c();
            let mut n = 0;
            st(what, crm_score_get(h.get(c), id.0, ptr(&s), &mut n))
        }
        Op::ScoreAll(c, s) => {
            let s = s.c();
            out_json(what, |o| crm_score_all(h.get(c), ptr(&s), o))
        }
        Op::LifecycleRulesGet(c) => out_json(what, |o| crm_lifecycle_rules_get(h.get(c), o)),
        Op::LifecycleRefresh(c, at) => out_json(what, |o| crm_lifecycle_refresh(h.get(c), at.0, o)),
        Op::LifecycleHistory(c, id) => out_json(what, |o| crm_lifecycle_history(h.get(c), id.0, o)),
        Op::TierConfigGet(c) => out_json(what, |o| crm_tier_config_get(h.get(c), o)),
        Op::TierRefresh(c, at) => out_json(what, |o| crm_tier_refresh(h.get(c), at.0, o)),
        Op::TierGet(c, id) => out_json(what, |o| crm_tier_get(h.get(c), id.0, o)),
        Op::TierHistory(c, id) => out_json(what, |o| crm_tier_history(h.get(c), id.0, o)),
        Op::RfmModel(c) => out_json(what, |o| crm_rfm_model(h.get(c), o)),
        Op::RfmOf(c, id) => out_json(what, |o| crm_rfm_of(h.get(c), id.0, o)),
        Op::RfmOfTyped(c, id) => {
            let mut out: crm_rfm_customer = zeroed();
            let mut found = false;
            st(what, crm_rfm_of_typed(h.get(c), id.0, &mut out, &mut found))
        }
        Op::RfmScore(c, id, at) => out_json(what, |o| crm_rfm_score(h.get(c), id.0, at.0, o)),
        Op::RfmScoreTyped(c, id, at) => {
            let mut out: crm_rfm_customer = zeroed();
            let mut found = false;
            st(what, crm_rfm_score_typed(h.get(c), id.0, at.0, &mut out, &mut found))
        }
        Op::RfmSegmentSizes(c) => out_json(what, |o| crm_rfm_segment_sizes(h.get(c), o)),
        Op::ChangesSince(c, after, l) => out_json(what, |o| crm_changes_since(h.get(c), after.0, l.0, o)),
        Op::CountsGet(c) => {
            let mut out = crm_counts::default();
            st(what, crm_counts_get(h.get(c), &mut out))
        }
        Op::ChangeCursor(c, after, page, steps) => {
            let mut cur = null_mut();
            if check(crm_change_cursor_open(h.get(c), after.0, page.0, &mut cur), what) == CRM_OK {
                for _ in 0..steps % 8 {
                    let mut ch: crm_change = zeroed();
                    let mut has = false;
                    check(crm_change_cursor_next(cur, &mut ch, &mut has), "crm_change_cursor_next");
                    let mut seq = 0;
                    check(crm_change_cursor_seq(cur, &mut seq), "crm_change_cursor_seq");
                }
                assert_eq!(crm_change_cursor_free(cur), CRM_OK);
                assert_eq!(crm_change_cursor_free(cur), CRM_ERR_INVALID_HANDLE, "freeing twice");
            }
        }
        Op::CustomerCursor(c, q, steps) => {
            let q = q.c();
            let mut cur = null_mut();
            if check(crm_customer_cursor_open(h.get(c), ptr(&q), &mut cur), what) == CRM_OK {
                for _ in 0..steps % 8 {
                    out_json("crm_customer_cursor_next", |o| crm_customer_cursor_next(cur, o));
                }
                assert_eq!(crm_customer_cursor_free(cur), CRM_OK);
            }
        }
        Op::MatchSuggestions(c, s, after, l) => {
            let s = s.c();
            out_json(what, |o| crm_match_suggestions(h.get(c), ptr(&s), after.0, l.0, o))
        }
        Op::MatchSuggestionResolve(c, id, s) => {
            let s = s.c();
            st(what, crm_match_suggestion_resolve(h.get(c), id.0, ptr(&s)))
        }
        Op::MatchKeysEnsure(c) => st(what, crm_match_keys_ensure(h.get(c))),
        Op::MatchPolicyGet(c) => out_json(what, |o| crm_match_policy_get(h.get(c), o)),
        Op::MatchModelGet(c) => out_json(what, |o| crm_match_model_get(h.get(c), o)),
        Op::CustomerGetByIdentity(c, s, e) => {
            let (s, e) = (s.c(), e.c());
            out_json(what, |o| crm_customer_get_by_identity(h.get(c), ptr(&s), ptr(&e), o))
        }
        Op::IdentityAdd(c, id, s, e) => {
            let (s, e) = (s.c(), e.c());
            st(what, crm_identity_add(h.get(c), id.0, ptr(&s), ptr(&e)))
        }
        Op::IdentityRemove(c, s, e) => {
            let (s, e) = (s.c(), e.c());
            st(what, crm_identity_remove(h.get(c), ptr(&s), ptr(&e)))
        }
        Op::CustomerIdentities(c, id) => out_json(what, |o| crm_customer_identities(h.get(c), id.0, o)),
        Op::CustomerMergeHistory(c, id) => out_json(what, |o| crm_customer_merge_history(h.get(c), id.0, o)),
        Op::CustomerMerge(c, a, b, req) => {
            let req = req.c();
            out_json(what, |o| crm_customer_merge(h.get(c), a.0, b.0, ptr(&req), o))
        }
        Op::StatusName(v) => name(crm::error::crm_status_name(v)),
        Op::EntityName(v) => name(crm_entity_name(v)),
        Op::OpName(v) => name(crm_op_name(v)),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    // One fixture for every input (opening a database runs its migrations, slow under ASan):
    // what a sequence writes stays, which the calls must cope with anyway.
    let shared = *FIXTURE.get_or_init(|| open_fixture() as usize) as *mut crm_t;
    let mut h = Handles { live: vec![shared] };
    // A bounded sequence: a long one would mostly repeat itself, slowly.
    for _ in 0..32 {
        // Exhausted data reads as zeros (the first variant, over and over): stop instead.
        if u.is_empty() {
            break;
        }
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        unsafe { run(&mut h, op) };
    }
    for x in h.live.into_iter().skip(1) {
        assert_eq!(unsafe { crm_close(x) }, CRM_OK);
    }
});
