//! The benchmark (`bench/`) still runs: `--quick` goes through every case with tiny
//! sizes against the real emulator, without errors, within a time limit.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(180);

const CASES: &[&str] = &[
    "ceiling-http",
    "ceiling-storage",
    "empty-poll",
    "get-chat",
    "send-many",
    "send-hot",
    "request-chat",
    "mix",
    "send-many-big",
    "send-hot-big",
    "poll-big",
    "scheduler-tick",
    "scheduler-lateness",
    "startup",
    "rss",
    "lifecycle",
    "wait-latency",
    "watchers",
    "journal",
    "retention",
    "scenario-tick",
];

#[test]
fn the_quick_benchmark_runs_every_case_without_errors() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gws-bench"))
        .arg("--quick")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gws-bench");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for gws-bench") {
            break Some(status);
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    let Some(status) = status else {
        panic!("gws-bench --quick took more than {LIMIT:?}\n{out}\n{err}");
    };
    assert!(status.success(), "gws-bench --quick failed ({status})\n{out}\n{err}");
    for case in CASES {
        assert!(out.contains(case), "the output does not mention {case}\n{out}");
    }
    assert!(out.contains("== Targets"), "no targets in the output\n{out}");
}
