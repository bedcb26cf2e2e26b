//! The cases, in the order they run, and the targets computed from what they measured.
//!
//! A case is a function `fn(&mut Bench, name) -> Result<(), String>` that measures one thing
//! and adds its row(s) to `bench.report` (and the metrics its targets read); an `Err` is
//! reported as the case failing. Adding a case: a function in one of these modules (or a new
//! one), and its line in [`CASES`].

mod big;
mod ceilings;
mod mix;
mod powers;
mod process;
mod reads;
mod scheduler;
mod writes;

use crate::db::{self, Chats};
use crate::report::Target;
use crate::runner::Bench;
use crate::seed::DbKind;

/// One case: its name (for `--only` and the report), what it measures, how.
pub struct Case {
    pub name: &'static str,
    pub what: &'static str,
    pub run: fn(&mut Bench, &str) -> Result<(), String>,
}

const fn case(
    name: &'static str,
    what: &'static str,
    run: fn(&mut Bench, &str) -> Result<(), String>,
) -> Case {
    Case { name, what, run }
}

/// Every case, in the order they run.
#[rustfmt::skip]
pub static CASES: &[Case] = &[
    case("ceiling-http", "a trivial actix-web server answering {\"messages\":[],\"statusCode\":0}", ceilings::http),
    case("ceiling-storage", "raw rusqlite, the emulator's pragmas, one small INSERT per transaction", ceilings::storage),
    case("empty-poll", "GetTranscript with nothing new, spread over many chats", reads::empty_poll),
    case("get-chat", "GetChat, spread over many chats", reads::get_chat),
    case("send-many", "SendMessage spread over many chats (manual agent, no bot work)", writes::send_many),
    case("send-hot", "SendMessage, every connection into one chat", writes::send_hot),
    case("request-chat", "RequestChat (bot mode, agent join delay 1h so no job runs)", writes::request_chat),
    case("mix", "open loop: widgets polling GetTranscript?index=N once a second, plus senders", mix::mix),
    case("send-many-big", "send-many on the database of 1 000 000 messages", big::send_many_big),
    case("send-hot-big", "send-hot into the chat holding 100 000 messages", big::send_hot_big),
    case("poll-big", "GetTranscript with nothing new on the chat holding 100 000 messages", big::poll_big),
    case("scheduler-tick", "scheduler::run_due with nothing due, 100 000 open chats (in-process)", scheduler::tick),
    case("scheduler-lateness", "agent joins and bot replies: actual time - due time", scheduler::lateness),
    case("startup", "spawn to the listening line, database of 1 000 000 messages", process::startup),
    case("rss", "VmRSS of the emulator at idle after start, and its peak during the mix", process::rss),
    case("lifecycle", "1 000 chats through join, 3 bot answers and the 30-minute close on a frozen clock", powers::lifecycle),
    case("wait-latency", "from a message's acknowledgement to a waiting GET's answer and to its event", powers::wait_latency),
    case("watchers", "send-many without, then with 1 000 event streams open", powers::watchers),
    case("journal", "empty-poll with the request journal off, then on", powers::journal),
    case("retention", "polls while retention deletes 100 000 ended chats", powers::retention),
    case("scenario-tick", "scheduler::run_due with nothing due, 1 000 chats in waitFor steps (in-process)", powers::scenario_tick),
];

/// The case called `name`.
pub fn find(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.name == name)
}

fn ratio(v: f64) -> String {
    format!("{v:.2}")
}

fn within(v: f64) -> bool {
    v >= 0.85
}

/// What a full run should show. A target whose metrics were not recorded (its cases did not
/// run) is shown as n/a.
pub const TARGETS: &[Target] = &[
    Target {
        name: "empty-poll / ceiling-http",
        value: |r| r.ratio("empty-poll", "ceiling-http"),
        show: ratio,
        goal: ">= 0.50",
        pass: |v| v >= 0.5,
    },
    Target {
        name: "get-chat / ceiling-http",
        value: |r| r.ratio("get-chat", "ceiling-http"),
        show: ratio,
        goal: ">= 0.50",
        pass: |v| v >= 0.5,
    },
    Target {
        name: "send-many / ceiling-storage",
        value: |r| r.ratio("send-many", "ceiling-storage"),
        show: ratio,
        goal: ">= 0.50 (aim > 1.0)",
        pass: |v| v >= 0.5,
    },
    Target {
        name: "send-many-big / send-many",
        value: |r| r.ratio("send-many-big", "send-many"),
        show: ratio,
        goal: ">= 0.85",
        pass: within,
    },
    Target {
        name: "send-hot-big / send-hot",
        value: |r| r.ratio("send-hot-big", "send-hot"),
        show: ratio,
        goal: ">= 0.85",
        pass: within,
    },
    Target {
        name: "poll-big / empty-poll",
        value: |r| r.ratio("poll-big", "empty-poll"),
        show: ratio,
        goal: ">= 0.85",
        pass: within,
    },
    Target {
        name: "scheduler tick p99, 100k idle chats",
        value: |r| r.metric("scheduler-tick.p99_us"),
        show: |v| format!("{v:.1} µs"),
        goal: "< 1000 µs",
        pass: |v| v < 1000.0,
    },
    Target {
        name: "lateness p99, agent join",
        value: |r| r.metric("lateness.join.p99_ms"),
        show: |v| format!("{v:.0} ms"),
        goal: "< 100 ms",
        pass: |v| v < 100.0,
    },
    Target {
        name: "lateness p99, bot reply",
        value: |r| r.metric("lateness.reply.p99_ms"),
        show: |v| format!("{v:.0} ms"),
        goal: "< 100 ms",
        pass: |v| v < 100.0,
    },
    Target {
        name: "startup median, 1M messages",
        value: |r| r.metric("startup.median_ms"),
        show: |v| format!("{v:.0} ms"),
        goal: "< 300 ms",
        pass: |v| v < 300.0,
    },
    Target {
        name: "idle RSS",
        value: |r| r.metric("rss.idle"),
        show: |v| format!("{v:.1} MiB"),
        goal: "< 30 MiB",
        pass: |v| v < 30.0,
    },
    Target {
        name: "lifecycle of 1 000 chats, frozen clock",
        value: |r| r.metric("lifecycle.s"),
        show: |v| format!("{v:.2} s"),
        goal: "< 2 s",
        pass: |v| v < 2.0,
    },
    Target {
        name: "wait answered after the write, p99",
        value: |r| r.metric("wait-latency.wait.p99_ms"),
        show: |v| format!("{v:.2} ms"),
        goal: "< 5 ms",
        pass: |v| v < 5.0,
    },
    Target {
        name: "event after the write, p99",
        value: |r| r.metric("wait-latency.sse.p99_ms"),
        show: |v| format!("{v:.2} ms"),
        goal: "< 5 ms",
        pass: |v| v < 5.0,
    },
    Target {
        name: "send-many with / without 1 000 streams",
        value: |r| r.metric("watchers.ratio"),
        show: ratio,
        goal: ">= 0.85",
        pass: within,
    },
    Target {
        name: "empty-poll journal on / off",
        value: |r| r.metric("journal.ratio"),
        show: ratio,
        goal: ">= 0.85",
        pass: within,
    },
    Target {
        name: "poll p99 during retention",
        value: |r| r.metric("retention.p99_ms"),
        show: |v| format!("{v:.2} ms"),
        goal: "< 10 ms",
        pass: |v| v < 10.0,
    },
    Target {
        name: "scheduler tick p99, waitFor chats",
        value: |r| r.metric("scenario-tick.p99_us"),
        show: |v| format!("{v:.1} µs"),
        goal: "< 1000 µs",
        pass: |v| v < 1000.0,
    },
    Target {
        name: "errors, all cases",
        value: |r| Some(r.errors as f64),
        show: |v| format!("{v:.0}"),
        goal: "0",
        pass: |v| v == 0.0,
    },
];

/// The emulator with no simulated work: what the throughput cases run.
const MANUAL: &[&str] =
    &["--agent-mode", "manual", "--system-message-interval", "0", "--idle-timeout", "0"];

/// A closed-loop case on a fresh copy of the seeded database `kind`: the emulator started on it
/// with `args`, then driven with `requests(host, chats)`; `note(chats)` goes in the report.
fn closed_on_seeded(
    b: &mut Bench,
    case: &str,
    kind: DbKind,
    args: &[&str],
    requests: impl FnOnce(&str, &Chats) -> Vec<Vec<u8>>,
    note: impl FnOnce(&Chats) -> String,
) -> Result<(), String> {
    let cached = b.cached_db(kind)?;
    let db = b.copy_db(&cached, case)?;
    let chats = db::read_chats(&db)?;
    let server = b.spawn_emulator(case, &db, args)?;
    let requests = requests(&server.host(), &chats);
    let note = note(&chats);
    b.closed_loop(case, server, requests, &note);
    db::remove(&db);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_are_unique() {
        for (i, c) in CASES.iter().enumerate() {
            assert!(CASES[..i].iter().all(|d| d.name != c.name), "{} twice", c.name);
            assert!(std::ptr::eq(find(c.name).unwrap(), c));
        }
        assert!(find("nope").is_none());
    }
}
