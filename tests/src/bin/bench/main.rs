//! Belfry's benchmarks (`cargo xtask bench`): each figure measured many
//! times beside its floor, the same work done the barest way in the same
//! run, and printed as one table with the budget. Not a test: nothing here
//! asserts on time.
//!
//! Each part of the suite is a module under `bench/` that returns its rows;
//! `bench [rows] [part…]` runs the named parts (all by default).

// A benchmark binary: it prints its table, and a failed setup ends it.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod burst;
mod dunst;
mod footprint;
mod gateway;
mod latency;
mod load;
mod open;
mod sound;
mod store;
mod toast;

use std::time::{Duration, Instant};

/// What a figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Unit {
    /// Milliseconds (samples are durations).
    Ms,
    /// Megabytes (10^6 bytes).
    Mb,
    /// Kilobytes (10^3 bytes).
    Kb,
    /// Percent of one core.
    Percent,
    /// Events per second.
    PerSecond,
    /// A plain count.
    Count,
}

impl Unit {
    fn show(self, v: f64) -> String {
        match self {
            Self::Ms if v < 1.0 => format!("{v:.3} ms"),
            Self::Ms => format!("{v:.1} ms"),
            Self::Mb => format!("{v:.1} MB"),
            Self::Kb => format!("{v:.1} KB"),
            Self::Percent => format!("{v:.2} %"),
            Self::PerSecond => format!("{v:.2}/s"),
            Self::Count => format!("{v:.0}"),
        }
    }
}

/// One measured figure: its samples, its floor's (if it has one) and its
/// budget, all in `unit`. A figure is within budget when its `stat`
/// (the median, or p99 where the budget says so) is at most the budget.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// What is measured, as the table names it.
    pub figure: String,
    /// What the numbers count.
    pub unit: Unit,
    /// The measurements.
    pub samples: Vec<f64>,
    /// The floor's measurements (none: the figure has no floor).
    pub floor: Vec<f64>,
    /// The budget (NaN: none set yet; JSON has no NaN, so it is null there).
    #[serde(deserialize_with = "nan_if_null")]
    pub budget: f64,
    /// Which percentile the budget holds for (0.5: the median).
    pub budget_at: f64,
}

fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl Row {
    /// A figure timed in durations, budget in milliseconds at the median.
    pub fn timed(
        figure: impl Into<String>,
        samples: &[Duration],
        floor: &[Duration],
        budget_ms: f64,
    ) -> Self {
        let ms = |d: &[Duration]| d.iter().map(|x| x.as_secs_f64() * 1e3).collect();
        Self {
            figure: figure.into(),
            unit: Unit::Ms,
            samples: ms(samples),
            floor: ms(floor),
            budget: budget_ms,
            budget_at: 0.5,
        }
    }

    /// A plain count (one sample) with its budget.
    pub fn count(figure: impl Into<String>, n: f64, budget: f64) -> Self {
        Self {
            figure: figure.into(),
            unit: Unit::Count,
            samples: vec![n],
            floor: Vec::new(),
            budget,
            budget_at: 0.5,
        }
    }

    /// Judged at percentile `p` (0.99 for a p99 budget).
    pub fn at(mut self, p: f64) -> Self {
        self.budget_at = p;
        self
    }

    fn print(&mut self) {
        if self.samples.is_empty() {
            println!(
                "| {} | not measured (see above) | — | — | — | ≤ {} | — |",
                self.figure,
                self.unit.show(self.budget)
            );
            return;
        }
        self.samples.sort_by(f64::total_cmp);
        self.floor.sort_by(f64::total_cmp);
        let u = self.unit;
        let median = percentile(&self.samples, 0.5);
        let judged = percentile(&self.samples, self.budget_at);
        let spread = format!(
            "{}–{}",
            u.show(percentile(&self.samples, 0.1)),
            u.show(percentile(&self.samples, 0.9))
        );
        let (floor, ratio) = if self.floor.is_empty() {
            ("—".to_owned(), "—".to_owned())
        } else {
            let f = percentile(&self.floor, 0.5);
            // A floor of nothing (a peer that did not wake at all in the
            // window) has no ratio to speak of.
            let ratio = if f > 0.0 {
                format!("{:.2}×", median / f)
            } else {
                "—".to_owned()
            };
            (u.show(f), ratio)
        };
        let p99 = if self.budget_at > 0.5 {
            format!(" (p{:.0} {})", self.budget_at * 100.0, u.show(judged))
        } else {
            String::new()
        };
        let within = if self.budget.is_nan() {
            "—"
        } else if judged <= self.budget {
            "yes"
        } else {
            "**no**"
        };
        let at = if self.budget_at > 0.5 {
            format!(" p{:.0}", self.budget_at * 100.0)
        } else {
            String::new()
        };
        let budget = if self.budget.is_nan() {
            "—".to_owned()
        } else {
            format!("≤ {}{at}", u.show(self.budget))
        };
        println!(
            "| {} | {}{p99} | {spread} | {floor} | {ratio} | {budget} | {within} |",
            self.figure,
            u.show(median),
        );
    }
}

/// The value at percentile `p` (0–1) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let len = sorted.len();
    if len == 0 {
        return f64::NAN;
    }
    let rank = (p * (len - 1) as f64).round();
    sorted[(rank as usize).min(len - 1)]
}

/// Times `f` `n` times (after a few warm-up runs).
pub fn time(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..3 {
        f();
    }
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

/// The parts of the suite, in the order they print.
const PARTS: &[&str] = &[
    "store",
    "burst",
    "gateway",
    "toast",
    "dunst",
    "sound",
    "footprint",
    "open",
    "load",
];

fn main() {
    // glibc's allocator as the app sets it (one arena), so the burst's
    // memory growth is what the app's would be.
    belfry_os::memory::frugal();
    // The toast part, and the dunst part's pile, measure in a child of
    // their own, on a private bus.
    if let Some(kind) = std::env::var_os(toast::CHILD) {
        latency::published::install();
        match kind.to_str() {
            Some("toast") => toast::child(),
            Some("dunst-pile") => dunst::pile_child(dunst::Ages::Shown),
            Some("dunst-pile-no-age") => dunst::pile_child(dunst::Ages::Hidden),
            other => panic!("unknown child {other:?}"),
        }
        return;
    }
    // The footprint part's floor runs this binary as a bare stream peer.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|m| m == load::FLOOR_MODE) {
        return load::floor_main();
    }
    if let [_, mode, url, token] = args.as_slice()
        && mode == "idle-peer"
    {
        return footprint::idle_peer(url, token);
    }
    latency::published::install();
    let mut rows_wanted: u64 = 100_000;
    let mut parts: Vec<String> = Vec::new();
    for a in std::env::args().skip(1) {
        match a.parse() {
            Ok(n) => rows_wanted = n,
            Err(_) if PARTS.contains(&a.as_str()) => parts.push(a),
            Err(_) => panic!("unknown part {a:?}: the parts are {PARTS:?}"),
        }
    }
    if parts.is_empty() {
        // The load part runs servers of its own for about twenty minutes:
        // only when named (`bench load`).
        parts = PARTS
            .iter()
            .filter(|p| **p != "load")
            .map(|p| (*p).to_owned())
            .collect();
    }
    let mut table: Vec<Row> = Vec::new();
    for part in &parts {
        let rows = match part.as_str() {
            "store" => store::run(rows_wanted),
            "burst" => burst::run(),
            "gateway" => gateway::run(),
            "toast" => toast::run(),
            "dunst" => dunst::run(),
            "sound" => sound::run(),
            "footprint" => footprint::run(),
            "open" => open::run(),
            "load" => load::run(),
            _ => unreachable!("checked above"),
        };
        table.extend(rows);
    }
    println!();
    println!("| figure | median | p10–p90 | floor (median) | ratio | budget | within |");
    println!("|---|---|---|---|---|---|---|");
    for row in &mut table {
        row.print();
    }
}
