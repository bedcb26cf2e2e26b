//! The report: a row per case as it ends, then the summary table and the targets.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::thread;
use std::time::Duration;

use crate::stats::Stats;

/// One line of the summary.
pub struct Row {
    pub case: String,
    pub rate: String,
    pub p50: String,
    pub p99: String,
    pub max: String,
    pub errors: u64,
    pub note: String,
}

/// What a target expects of a run, computed from the report's metrics.
pub struct Target {
    pub name: &'static str,
    /// The measured value (`None` when its cases did not run).
    pub value: fn(&Report) -> Option<f64>,
    pub show: fn(f64) -> String,
    pub goal: &'static str,
    pub pass: fn(f64) -> bool,
}

/// The rows of a run, and the figures (metrics) the targets are computed from.
#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    metrics: HashMap<String, f64>,
    /// Errors over every row.
    pub errors: u64,
}

impl Report {
    /// Adds a row, and prints it at once.
    pub fn row(&mut self, row: Row) {
        self.errors += row.errors;
        println!(
            "   {:<22} {:>14}  p50 {:>10}  p99 {:>10}  max {:>10}  errors {}{}",
            row.case,
            row.rate,
            row.p50,
            row.p99,
            row.max,
            row.errors,
            if row.note.is_empty() { String::new() } else { format!("\n     {}", row.note) }
        );
        self.rows.push(row);
    }

    /// The row of a load case: the rate of successful requests over `window` (recorded as the
    /// metric `case`), their latencies (µs), the errors.
    pub fn load_row(
        &mut self,
        case: &str,
        unit: &str,
        stats: &mut Stats,
        window: Duration,
        note: String,
    ) {
        let s = stats.summary();
        let rate = s.count as f64 / window.as_secs_f64();
        self.set_metric(case, rate);
        let errors = stats.error_count();
        let mut note = note;
        if errors > 0 {
            note = join_notes(&note, &format!("errors: {}", stats.error_text()));
        }
        self.row(Row {
            case: case.to_string(),
            rate: format!("{rate:.0} {unit}"),
            p50: ms(s.p50),
            p99: ms(s.p99),
            max: ms(s.max),
            errors,
            note,
        });
    }

    /// The row of a case that could not run.
    pub fn failed(&mut self, case: &str, why: &str) {
        self.row(Row {
            case: case.to_string(),
            rate: "-".into(),
            p50: "-".into(),
            p99: "-".into(),
            max: "-".into(),
            errors: 1,
            note: format!("FAILED: {why}"),
        });
    }

    pub fn set_metric(&mut self, key: &str, value: f64) {
        self.metrics.insert(key.to_string(), value);
    }

    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).copied()
    }

    /// Metric `a` / metric `b`.
    pub fn ratio(&self, a: &str, b: &str) -> Option<f64> {
        Some(self.metric(a)? / self.metric(b)?)
    }

    /// Prints the table and the targets; returns how many targets failed.
    pub fn print_summary(
        &self,
        mode: &str,
        quick: bool,
        machine: &str,
        took: Duration,
        targets: &[Target],
    ) -> usize {
        let mut out = String::new();
        let _ = writeln!(out, "\n== Summary ({mode} run, {:.0} s)", took.as_secs_f64());
        let _ = writeln!(out, "machine: {machine}");
        let _ = writeln!(out, "load average at the end: {}", loadavg());
        let _ = writeln!(
            out,
            "{:<26} {:>16} {:>10} {:>10} {:>10} {:>7}  notes",
            "case", "throughput", "p50", "p99", "max", "errors"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:<26} {:>16} {:>10} {:>10} {:>10} {:>7}  {}",
                r.case, r.rate, r.p50, r.p99, r.max, r.errors, r.note
            );
        }
        let _ = writeln!(
            out,
            "\n== Targets{}",
            if quick { " (a --quick run: tiny sizes, informative only)" } else { "" }
        );
        let _ = writeln!(out, "{:<38} {:>12}  {:<22} result", "target", "measured", "goal");
        let mut failed = 0;
        for t in targets {
            let value = (t.value)(self);
            let result = match value.map(t.pass) {
                Some(true) => "PASS",
                Some(false) => {
                    failed += 1;
                    "FAIL"
                }
                None => "n/a (case not run)",
            };
            let shown = value.map_or("n/a".into(), t.show);
            let _ = writeln!(out, "{:<38} {:>12}  {:<22} {result}", t.name, shown, t.goal);
        }
        print!("{out}");
        failed
    }
}

/// Two notes as one.
pub fn join_notes(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}; {b}"),
    }
}

/// µs as milliseconds.
pub fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1000.0)
}

/// The machine, in one line: cores, CPU, memory, load.
pub fn machine() -> String {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, v)| v.trim().to_string());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    format!(
        "nproc {cpus}, {model}, {:.1} GiB RAM, load average {}",
        mem_kib as f64 / 1024.0 / 1024.0,
        loadavg()
    )
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_join_with_a_semicolon() {
        assert_eq!(join_notes("", "b"), "b");
        assert_eq!(join_notes("a", ""), "a");
        assert_eq!(join_notes("a", "b"), "a; b");
    }

    #[test]
    fn targets_pass_fail_or_are_not_measured() {
        let mut report = Report::default();
        report.set_metric("a", 3.0);
        report.set_metric("b", 4.0);
        let target = |value: fn(&Report) -> Option<f64>| Target {
            name: "t",
            value,
            show: |v| format!("{v:.2}"),
            goal: ">= 0.5",
            pass: |v| v >= 0.5,
        };
        let targets = [
            target(|r| r.ratio("a", "b")),
            target(|r| r.ratio("b", "a").map(|v| v - 1.0)),
            target(|r| r.ratio("a", "missing")),
        ];
        assert_eq!(report.print_summary("test", true, "m", Duration::ZERO, &targets), 1);
    }
}
