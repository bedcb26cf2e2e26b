//! The realistic mix: widgets polling once a second while a few customers send and the bot
//! answers (open loop), and the server's memory meanwhile.

use std::thread;
use std::time::Duration;

use rusqlite::params;

use gws_emulator::store::now_ms;

use crate::db;
use crate::load::{run_mix, MixSpec};
use crate::procs::{mib, proc_memory};
use crate::report::join_notes;
use crate::runner::Bench;
use crate::seed::DbKind;

/// Rows "mix poll" and "mix send"; records the metric `rss.mix_peak` (MiB) for the rss case.
pub fn mix(b: &mut Bench, case: &str) -> Result<(), String> {
    let cached = b.cached_db(DbKind::Small)?;
    let db = b.copy_db(&cached, case)?;
    let chats = db::read_chats(&db)?;
    let widgets = b.sizes.mix_widgets.min(chats.ids.len());
    let senders = b.sizes.mix_senders.min(widgets);
    // The widgets' chats get the contact centre's usual work: a system message every 20 s
    // (spread) and the inactivity check; the other chats' jobs stay far in the future.
    {
        let conn = db::open_plain(&db)?;
        let now = now_ms();
        conn.execute(
            "UPDATE jobs SET due_at = ?1 + (chat_rowid * 7919) % 20000
             WHERE kind = 'system_message' AND chat_rowid <= ?2",
            params![now, widgets as i64],
        )
        .map_err(|e| e.to_string())?;
        conn.execute(
            "UPDATE jobs SET due_at = ?1 + 1800000 WHERE kind = 'idle_timeout' AND chat_rowid <= ?2",
            params![now, widgets as i64],
        )
        .map_err(|e| e.to_string())?;
    }
    // Bot mode with the default delays: replies (with typing) come while the widgets poll.
    let server = b.spawn_emulator(case, &db, &["--agent-mode", "bot"])?;
    let duration = b.opts.duration.max(Duration::from_secs(1));
    let spec = MixSpec {
        addr: server.addr,
        widgets: chats.ids[..widgets]
            .iter()
            .cloned()
            .zip(chats.last[..widgets].iter().map(|l| l + 1))
            .collect(),
        senders,
        connections: b.sizes.mix_connections,
        warmup: b.opts.warmup,
        duration,
    };
    let pid = server.pid();
    let handle = thread::spawn(move || run_mix(spec));
    // Sample the server's memory while the mix runs.
    let mut peak_sampled = 0;
    while !handle.is_finished() {
        if let Some((rss, _)) = proc_memory(pid) {
            peak_sampled = peak_sampled.max(rss);
        }
        thread::sleep(Duration::from_millis(50));
    }
    let mut result = handle.join().map_err(|_| "the mix load thread panicked")?;
    let hwm = proc_memory(pid).map(|(_, hwm)| hwm).unwrap_or(0);
    let peak = peak_sampled.max(hwm);
    b.report.set_metric("rss.mix_peak", mib(peak));
    let log = server.stop();
    if log.errors > 0 {
        result.poll.errors.insert("server logged errors".into(), log.errors as u64);
    }
    let scheduled = format!(
        "{widgets} widgets polling GetTranscript?index=N every second over {} connections; {} new messages received; server peak RSS {:.1} MiB",
        b.sizes.mix_connections,
        result.received,
        mib(peak)
    );
    b.report.load_row(
        &format!("{case} poll"),
        "req/s",
        &mut result.poll,
        duration,
        join_notes(&scheduled, &log.note().unwrap_or_default()),
    );
    b.report.load_row(
        &format!("{case} send"),
        "req/s",
        &mut result.send,
        duration,
        format!("{senders} senders, one SendMessage a second each (bot replies after 0-2 s)"),
    );
    db::remove(&db);
    Ok(())
}
