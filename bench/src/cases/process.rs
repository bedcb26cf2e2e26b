//! The emulator's process itself: how fast it starts, how much memory it holds.

use std::thread;

use crate::db;
use crate::procs::{mib, proc_memory};
use crate::report::{ms, Row};
use crate::runner::Bench;
use crate::seed::DbKind;

/// Spawn to the listening line on the big database, `startup_runs` times; the median.
pub fn startup(b: &mut Bench, case: &str) -> Result<(), String> {
    let cached = b.cached_db(DbKind::Big)?;
    let mut times = Vec::new();
    for _ in 0..b.sizes.startup_runs {
        let db = b.copy_db(&cached, case)?;
        let server = b.spawn_emulator(case, &db, &[])?;
        times.push(server.started_in.as_micros() as f64);
        drop(server);
        db::remove(&db);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    b.report.set_metric("startup.median_ms", median / 1000.0);
    let runs: Vec<String> = times.iter().map(|t| format!("{:.0}", t / 1000.0)).collect();
    b.report.row(Row {
        case: case.into(),
        rate: format!("median {}", ms(median)),
        p50: ms(median),
        p99: "-".into(),
        max: ms(*times.last().unwrap_or(&0.0)),
        errors: 0,
        note: format!("{} messages; runs (ms, sorted): {}", b.sizes.big_total(), runs.join(", ")),
    });
    Ok(())
}

/// VmRSS at idle, on an empty database and on the big one; with the mix's peak if it ran.
pub fn rss(b: &mut Bench, case: &str) -> Result<(), String> {
    let mut idle = Vec::new();
    let empty = b.tmp_path("rss-empty", ".db");
    let cached = b.cached_db(DbKind::Big)?;
    let big = b.copy_db(&cached, "rss-big")?;
    let big_label = format!("database of {} messages", b.sizes.big_total());
    for (what, db) in [("empty database", &empty), (big_label.as_str(), &big)] {
        let server = b.spawn_emulator(case, db, &[])?;
        thread::sleep(b.sizes.idle_wait);
        let rss =
            proc_memory(server.pid()).map(|(rss, _)| rss).ok_or("cannot read /proc/PID/status")?;
        drop(server);
        idle.push((what, mib(rss)));
    }
    db::remove(&empty);
    db::remove(&big);
    let worst = idle.iter().map(|(_, m)| *m).fold(0.0, f64::max);
    b.report.set_metric("rss.idle", worst);
    let peak = b.report.metric("rss.mix_peak");
    let mut note: Vec<String> =
        idle.iter().map(|(what, m)| format!("idle {m:.1} MiB ({what})")).collect();
    note.push(match peak {
        Some(p) => format!("peak during the mix {p:.1} MiB"),
        None => "peak during the mix: n/a (the mix case did not run)".into(),
    });
    b.report.row(Row {
        case: case.into(),
        rate: format!("idle {worst:.1} MiB"),
        p50: "-".into(),
        p99: "-".into(),
        max: peak.map_or("-".into(), |p| format!("{p:.1} MiB")),
        errors: 0,
        note: note.join("; "),
    });
    Ok(())
}
