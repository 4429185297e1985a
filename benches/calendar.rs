//! How fast the pure calendar plans accounts: a plain binary that prints its figures.
//!
//! `BENCH_ACCOUNTS` (default 2000) accounts of three contacts each, spread over the segments,
//! several time zones and day-0 dates, are planned twice: once fresh (no history) and once
//! half a year in, with everything due before then passed in as already sent.
//!
//! Run with `cargo bench --bench calendar`.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use support::env_usize;
use touchbot::domain::{AccountId, ContactId, ContactRole, MessageCategory, Segment, StaffId};
use touchbot::outbound::calendar::{
    AccountInput, CalendarConfig, ContactInput, PlannedTouch, SentTouch, plan,
};

const ZONES: [Tz; 6] = [
    Tz::UTC,
    Tz::Europe__Berlin,
    Tz::America__New_York,
    Tz::Asia__Almaty,
    Tz::Australia__Sydney,
    Tz::America__Sao_Paulo,
];

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// Account `i`: its segment, zones, start date, renewal and opt-outs vary with `i`.
fn account(i: usize) -> AccountInput {
    let segment = Segment::ALL[i % Segment::ALL.len()];
    let zone = ZONES[i % ZONES.len()];
    let day_zero = date(2026, 1, 5) + Days::new((i % 60) as u64);
    let renewal = (!i.is_multiple_of(5)).then(|| day_zero + Days::new(365));
    let roles = [
        ContactRole::DecisionMaker,
        ContactRole::Champion,
        ContactRole::User,
    ];
    let contacts = roles
        .iter()
        .enumerate()
        .map(|(k, &role)| ContactInput {
            id: ContactId((i * 3 + k) as i64 + 1),
            role,
            // Every third account has a contact abroad.
            time_zone: (i.is_multiple_of(3) && k == 2).then(|| ZONES[(i + 1) % ZONES.len()]),
            added_on: day_zero,
            opted_out: if i.is_multiple_of(7) && k == 1 {
                vec![MessageCategory::Survey]
            } else {
                Vec::new()
            },
            reachable: !(i.is_multiple_of(11) && k == 0),
        })
        .collect();
    AccountInput {
        id: AccountId(i as i64 + 1),
        segment,
        day_zero,
        renewal_date: renewal,
        time_zone: zone,
        csm: (!i.is_multiple_of(13)).then_some(StaffId(1 + (i % 20) as i64)),
        contacts,
        closed_tickets: Vec::new(),
    }
}

/// What would have gone out before `now`, as the history a later re-plan receives.
fn history_before(planned: &[PlannedTouch], now: DateTime<Utc>) -> Vec<SentTouch> {
    planned
        .iter()
        .filter(|t| t.is_send() && t.due_at < now)
        .map(|t| SentTouch {
            touch_key: t.touch_key.clone(),
            kind: t.kind,
            contact_id: match t.recipient {
                touchbot::outbound::calendar::Recipient::Contact(c) => Some(c),
                _ => None,
            },
            sent_at: t.due_at,
        })
        .collect()
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(label: &str, accounts: usize, touches: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{label:<28} {accounts:>6} accounts {touches:>8} touches  total {:>9.1} ms  \
         {:>8.1} µs/account  {:>9.0} accounts/s  {:>10.0} touches/s",
        secs * 1e3,
        secs * 1e6 / accounts.max(1) as f64,
        accounts as f64 / secs,
        touches as f64 / secs,
    );
}

fn main() {
    let n = env_usize("BENCH_ACCOUNTS", 2000);
    let config = CalendarConfig::default();
    let inputs: Vec<AccountInput> = (0..n).map(account).collect();
    // Before anyone's day 0: every touch of the year is still ahead.
    let fresh_now = midnight(date(2026, 1, 1));
    // Half a year in: the first months are history, a few recent ones land in the grace days.
    let later_now = midnight(date(2026, 7, 15)) + chrono::Duration::hours(10);

    println!("calendar::plan, {n} accounts x 3 contacts (set BENCH_ACCOUNTS to change)");

    // Warm-up, and the plans the history run starts from.
    let fresh_plans: Vec<Vec<PlannedTouch>> = inputs
        .iter()
        .map(|a| plan(a, &[], &config, fresh_now))
        .collect();

    let start = Instant::now();
    let mut touches = 0;
    for a in &inputs {
        touches += black_box(plan(black_box(a), &[], &config, fresh_now)).len();
    }
    report("no history", n, touches, start.elapsed());

    let histories: Vec<Vec<SentTouch>> = fresh_plans
        .iter()
        .map(|p| history_before(p, later_now))
        .collect();
    let history_len: usize = histories.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut touches = 0;
    for (a, h) in inputs.iter().zip(&histories) {
        touches += black_box(plan(black_box(a), h, &config, later_now)).len();
    }
    report("with history (6 months in)", n, touches, start.elapsed());
    println!(
        "  history passed in: {history_len} sent touches ({:.1} per account)",
        history_len as f64 / n.max(1) as f64
    );

    // One enterprise account with a renewal a year out: its whole year, planned repeatedly.
    let one = (0..)
        .map(account)
        .find(|a| a.segment == Segment::Enterprise && a.renewal_date.is_some())
        .expect("some account is an enterprise one with a renewal");
    let rounds = 200;
    let start = Instant::now();
    let mut len = 0;
    for _ in 0..rounds {
        len = black_box(plan(black_box(&one), &[], &config, fresh_now)).len();
    }
    let each = start.elapsed() / rounds;
    println!(
        "one enterprise account, full year: {len} touches, {:.1} µs per plan (mean of {rounds})",
        each.as_secs_f64() * 1e6
    );

    if let Some(kib) = peak_rss_kib() {
        println!("peak RSS (VmHWM): {:.1} MiB", kib as f64 / 1024.0);
    }
}
