//! gws-bench: measures the emulator against its ceilings.
//!
//! ```sh
//! cargo run --release -p gws-bench -- [--quick] [--only CASE,...] [--duration 5s]
//! ```
//!
//! The server under test is the real emulator (`Application::build`), started in a child process
//! so its memory can be read from `/proc`: this binary re-executes itself with the hidden first
//! argument `--serve-emulator <emulator options…>` (or `--serve-ceiling`, a trivial actix-web
//! server with one handler: the HTTP ceiling for a poll). The load comes from this process:
//! closed-loop keep-alive HTTP/1.1 connections spread over two threads (like `wrk -c32 -t2`), or
//! an open-loop schedule of widgets for the realistic mix. Storage and scheduler cases run in this
//! process against SQLite directly. Seeded databases are cached under `target/bench-cache/` and
//! copied before each use, so every case starts from the same state.
//!
//! Exit status: 0 when every case ran without errors (and, in a full run, every target passed);
//! 1 when a case had errors or could not run; 2 for a bad command line; 3 when a full run had no
//! errors but missed a target. `--quick` prints the targets without failing on them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use actix_web::rt::net::TcpStream;
use actix_web::{web, App, HttpResponse, HttpServer};
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

use gws_emulator::config::{parse_duration, Config};
use gws_emulator::scheduler::{self, StopFlag};
use gws_emulator::sim::Sim;
use gws_emulator::startup::serve;
use gws_emulator::store::{now_ms, Store, MIGRATIONS};

/// Every case, in the order they run, with what it measures.
const CASES: &[(&str, &str)] = &[
    ("ceiling-http", "a trivial actix-web server answering {\"messages\":[],\"statusCode\":0}"),
    ("ceiling-storage", "raw rusqlite, the emulator's pragmas, one small INSERT per transaction"),
    ("empty-poll", "GetTranscript with nothing new, spread over many chats"),
    ("get-chat", "GetChat, spread over many chats"),
    ("send-many", "SendMessage spread over many chats (manual agent, no bot work)"),
    ("send-hot", "SendMessage, every connection into one chat"),
    ("request-chat", "RequestChat (bot mode, agent join delay 1h so no job runs)"),
    ("mix", "open loop: widgets polling GetTranscript?index=N once a second, plus senders"),
    ("send-many-big", "send-many on the database of 1 000 000 messages"),
    ("send-hot-big", "send-hot into the chat holding 100 000 messages"),
    ("poll-big", "GetTranscript with nothing new on the chat holding 100 000 messages"),
    ("scheduler-tick", "scheduler::run_due with nothing due, 100 000 open chats (in-process)"),
    ("scheduler-lateness", "agent joins and bot replies: actual time - due time"),
    ("startup", "spawn to the listening line, database of 1 000 000 messages"),
    ("rss", "VmRSS of the emulator at idle after start, and its peak during the mix"),
];

const USAGE: &str = "\
gws-bench: measures gws-emulator against its ceilings (HTTP, storage) and its targets

Usage: cargo run --release -p gws-bench -- [OPTIONS]

Options:
  --quick              every case with tiny sizes and short runs (a smoke test, under a minute);
                       the targets are printed but do not fail the run
  --only CASE,...      run only these cases (see the list below)
  --duration D         measured time of each load case (default 5s; --quick 500ms)
  --warmup D           unmeasured time before it (default 1s; --quick 200ms)
  --connections N      closed-loop keep-alive connections (default 32, like wrk -c32)
  -h, --help           this help

Exit status: 0 all good; 1 a case had errors (or could not run); 2 bad usage;
3 (full runs only) no errors but a target was missed.
Seeded databases are cached in target/bench-cache/ (GWS_BENCH_CACHE overrides); delete it to reseed.

Cases:
";

/// Far-future due time (2100-01-01) for seeded jobs that must not run during a case.
const FAR_FUTURE: i64 = 4_102_444_800_000;
/// Bumped when the seeded layout changes, so cached databases are rebuilt.
const SEED_VERSION: u32 = 1;
/// Closed-loop load threads, like `wrk -t2`.
const LOAD_THREADS: usize = 2;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CEILING_BODY: &str = r#"{"messages":[],"statusCode":0}"#;
const SEND_BODY: &str = r#"{"operationName":"SendMessage","text":"Is my order on its way?"}"#;
const REQUEST_CHAT_BODY: &str =
    r#"{"operationName":"RequestChat","nickname":"Bench","subject":"Load test"}"#;
/// The emulator with no simulated work: what the throughput cases run.
const MANUAL: &[&str] =
    &["--agent-mode", "manual", "--system-message-interval", "0", "--idle-timeout", "0"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve-emulator") => serve_emulator(&args[1..]),
        Some("--serve-ceiling") => serve_ceiling(),
        _ => match Opts::parse(&args) {
            Ok(Some(opts)) => match Bench::new(opts) {
                Ok(bench) => bench.run(),
                Err(msg) => {
                    eprintln!("gws-bench: {msg}");
                    ExitCode::from(1)
                }
            },
            Ok(None) => {
                print!("{USAGE}");
                for (name, what) in CASES {
                    println!("  {name:<20} {what}");
                }
                ExitCode::SUCCESS
            }
            Err(msg) => {
                eprintln!("gws-bench: {msg} (see --help)");
                ExitCode::from(2)
            }
        },
    }
}

// ------------------------------------------------------------------------------------------
// The servers under test (child processes)

/// The child ends when the benchmark closes its stdin (or dies): no server outlives a run.
fn exit_when_stdin_closes() {
    thread::spawn(|| {
        let mut sink = [0u8; 256];
        let mut stdin = io::stdin();
        loop {
            match stdin.read(&mut sink) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
}

/// `--serve-emulator <options>`: the real emulator, as `main.rs` runs it. The benchmark passes a
/// temporary `--log-dir` and `RUST_LOG=warn`, so the per-request info lines are off.
fn serve_emulator(args: &[String]) -> ExitCode {
    exit_when_stdin_closes();
    let config = match Config::parse(args.iter().cloned(), |k| std::env::var(k).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("gws-bench --serve-emulator: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("gws-bench --serve-emulator: {msg}");
            ExitCode::from(1)
        }
    }
}

/// `--serve-ceiling`: actix-web with one handler and a fixed body, with the emulator's number of
/// workers. Nothing an emulator could do per request is cheaper: the HTTP ceiling.
fn serve_ceiling() -> ExitCode {
    exit_when_stdin_closes();
    let workers = thread::available_parallelism().map_or(2, |n| n.get());
    let result: io::Result<()> = actix_web::rt::System::new().block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let server = HttpServer::new(|| {
            App::new().default_service(web::to(|| async {
                HttpResponse::Ok().content_type("application/json").body(CEILING_BODY)
            }))
        })
        .workers(workers)
        .listen(listener)?
        .disable_signals()
        .run();
        println!("ceiling listening on http://{addr}/");
        server.await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gws-bench --serve-ceiling: {e}");
            ExitCode::from(1)
        }
    }
}

/// A server child process, stopped (stdin closed, then killed if need be) when dropped.
struct ServerProc {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
    /// From spawning the process to its listening line.
    started_in: Duration,
    log_dir: PathBuf,
}

impl ServerProc {
    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn shutdown(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }

    /// Stops the server and returns what it logged at WARN and ERROR (RUST_LOG=warn).
    fn stop(mut self) -> ServerLog {
        self.shutdown();
        ServerLog::read(&self.log_dir.join("stderr.txt"))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[derive(Default)]
struct ServerLog {
    warnings: usize,
    errors: usize,
    first: Option<String>,
}

impl ServerLog {
    fn read(path: &Path) -> ServerLog {
        let text = fs::read_to_string(path).unwrap_or_default();
        let mut log = ServerLog::default();
        for line in text.lines() {
            let error = line.contains(" ERROR ");
            let warn = line.contains(" WARN ");
            if error {
                log.errors += 1;
            } else if warn {
                log.warnings += 1;
            }
            if (error || warn) && log.first.is_none() {
                log.first = Some(line.chars().take(200).collect());
            }
        }
        log
    }

    fn note(&self) -> Option<String> {
        if self.warnings + self.errors == 0 {
            return None;
        }
        Some(format!(
            "server logged {} error(s), {} warning(s), first: {}",
            self.errors,
            self.warnings,
            self.first.as_deref().unwrap_or("")
        ))
    }
}

/// VmRSS and VmHWM (peak) of a process, in KiB.
fn proc_memory(pid: u32) -> Option<(u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ------------------------------------------------------------------------------------------
// Options and sizes

struct Opts {
    quick: bool,
    only: Option<Vec<&'static str>>,
    duration: Duration,
    warmup: Duration,
    connections: usize,
}

impl Opts {
    /// `Ok(None)` when help was asked for.
    fn parse(args: &[String]) -> Result<Option<Opts>, String> {
        let (mut quick, mut only, mut duration, mut warmup, mut connections) =
            (false, None, None, None, 32);
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            let mut value = |what: &str| {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .ok_or_else(|| format!("{flag} needs a value ({what})"))
            };
            match flag {
                "-h" | "--help" => return Ok(None),
                "--quick" => quick = true,
                "--only" => {
                    let list = value("CASE,...")?;
                    let mut names = Vec::new();
                    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let known = CASES.iter().find(|(n, _)| *n == name).ok_or_else(|| {
                            let all: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
                            format!("unknown case '{name}'; the cases are {}", all.join(", "))
                        })?;
                        names.push(known.0);
                    }
                    only = Some(names);
                }
                "--duration" | "--warmup" => {
                    let raw = value("a duration such as 5s or 500ms")?;
                    let d = parse_duration(&raw)
                        .ok_or_else(|| format!("invalid value '{raw}' for {flag}: expected a duration such as 5s or 500ms"))?;
                    if flag == "--duration" {
                        if d.is_zero() {
                            return Err("--duration must be more than 0".into());
                        }
                        duration = Some(d);
                    } else {
                        warmup = Some(d);
                    }
                }
                "--connections" => {
                    let raw = value("a number")?;
                    connections = raw
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=4096).contains(n))
                        .ok_or_else(|| {
                            format!("invalid value '{raw}' for --connections: expected 1 to 4096")
                        })?;
                }
                other => return Err(format!("unknown option '{other}'")),
            }
        }
        let default_duration =
            if quick { Duration::from_millis(500) } else { Duration::from_secs(5) };
        let default_warmup =
            if quick { Duration::from_millis(200) } else { Duration::from_secs(1) };
        Ok(Some(Opts {
            quick,
            only,
            duration: duration.unwrap_or(default_duration),
            warmup: warmup.unwrap_or(default_warmup),
            connections,
        }))
    }
}

/// How big each seeded database is (the issue's sizes; tiny with --quick).
struct Sizes {
    /// Chats of the small database (5 messages each) of the baseline cases and the mix.
    small_chats: usize,
    /// The big database: one chat of `hot_msgs` messages plus `big_chats` of `big_msgs`.
    big_chats: usize,
    big_msgs: usize,
    hot_msgs: usize,
    /// Open chats of the scheduler-tick database.
    tick_chats: usize,
    /// Chats whose agent joins fall due over `late_spread` (scheduler-lateness).
    late_chats: usize,
    late_spread: Duration,
    mix_widgets: usize,
    mix_senders: usize,
    mix_connections: usize,
    startup_runs: usize,
    idle_wait: Duration,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                small_chats: 100,
                big_chats: 100,
                big_msgs: 9,
                hot_msgs: 100,
                tick_chats: 1_000,
                late_chats: 200,
                late_spread: Duration::from_millis(500),
                mix_widgets: 100,
                mix_senders: 4,
                mix_connections: 4,
                startup_runs: 3,
                idle_wait: Duration::from_millis(300),
            }
        } else {
            Sizes {
                small_chats: 10_000,
                big_chats: 10_000,
                big_msgs: 90,
                hot_msgs: 100_000,
                tick_chats: 100_000,
                late_chats: 10_000,
                late_spread: Duration::from_secs(3),
                mix_widgets: 1_000,
                mix_senders: 20,
                mix_connections: 16,
                startup_runs: 5,
                idle_wait: Duration::from_secs(1),
            }
        }
    }

    fn big_total(&self) -> usize {
        self.hot_msgs + self.big_chats * self.big_msgs
    }
}

// ------------------------------------------------------------------------------------------
// Statistics and the report

/// Latencies (µs) of the successful requests in the measured window, and errors by kind.
#[derive(Default)]
struct Stats {
    lat_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
}

impl Stats {
    fn record(&mut self, d: Duration) {
        self.lat_us.push(d.as_micros().min(u32::MAX as u128) as u32);
    }

    fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    fn merge(&mut self, other: Stats) {
        self.lat_us.extend(other.lat_us);
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn error_text(&self) -> String {
        self.errors.iter().map(|(k, n)| format!("{n}× {k}")).collect::<Vec<_>>().join(", ")
    }

    fn summary(&mut self) -> Summary {
        self.lat_us.sort_unstable();
        let v = &self.lat_us;
        let mean = if v.is_empty() {
            0.0
        } else {
            v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64
        };
        Summary {
            count: v.len(),
            p50: pct(v, 0.50).unwrap_or(0) as f64,
            p99: pct(v, 0.99).unwrap_or(0) as f64,
            max: v.last().copied().unwrap_or(0) as f64,
            mean,
        }
    }
}

/// Latency figures in µs.
struct Summary {
    count: usize,
    p50: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

/// The value at quantile `q` of sorted `v` (nearest rank).
fn pct<T: Copy>(v: &[T], q: f64) -> Option<T> {
    if v.is_empty() {
        return None;
    }
    let rank = (q * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1000.0)
}

struct Row {
    case: String,
    rate: String,
    p50: String,
    p99: String,
    max: String,
    errors: u64,
    note: String,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    metrics: HashMap<String, f64>,
    errors: u64,
}

impl Report {
    fn row(&mut self, row: Row) {
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

    fn load_row(
        &mut self,
        case: &str,
        unit: &str,
        stats: &mut Stats,
        window: Duration,
        note: String,
    ) {
        let s = stats.summary();
        let rate = s.count as f64 / window.as_secs_f64();
        self.metrics.insert(case.to_string(), rate);
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

    fn failed(&mut self, case: &str, why: &str) {
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

    fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).copied()
    }
}

fn join_notes(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}; {b}"),
    }
}

// ------------------------------------------------------------------------------------------
// The benchmark

struct Bench {
    opts: Opts,
    sizes: Sizes,
    exe: PathBuf,
    tmp: PathBuf,
    cache: PathBuf,
    report: Report,
    seq: usize,
}

/// The chats of a seeded database, in rowid order: their API ids and newest message index.
struct Chats {
    ids: Vec<String>,
    last: Vec<i64>,
}

type ConnRequests = Vec<Arc<Vec<Vec<u8>>>>;

impl Bench {
    fn new(opts: Opts) -> Result<Bench, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let cache = match std::env::var_os("GWS_BENCH_CACHE") {
            Some(dir) => PathBuf::from(dir),
            // <target>/release/gws-bench -> <target>/bench-cache
            None => match exe.parent().and_then(Path::parent) {
                Some(target) if target.file_name().is_some_and(|n| n == "target") => {
                    target.join("bench-cache")
                }
                // bench/ -> the workspace's target/
                _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-cache"),
            },
        };
        fs::create_dir_all(&cache)
            .map_err(|e| format!("cannot create the cache folder {}: {e}", cache.display()))?;
        let tmp = std::env::temp_dir().join(format!(
            "gws-bench-{}-{}",
            std::process::id(),
            now_ms() % 1_000_000
        ));
        fs::create_dir_all(&tmp)
            .map_err(|e| format!("cannot create the temporary folder {}: {e}", tmp.display()))?;
        let sizes = Sizes::new(opts.quick);
        Ok(Bench { opts, sizes, exe, tmp, cache, report: Report::default(), seq: 0 })
    }

    fn selected(&self, case: &str) -> bool {
        self.opts.only.as_ref().is_none_or(|only| only.contains(&case))
    }

    fn run(mut self) -> ExitCode {
        let machine = machine();
        println!("gws-bench {} ({} run)", env!("CARGO_PKG_VERSION"), self.mode());
        println!("machine: {machine}");
        println!(
            "load: {} keep-alive connections over {LOAD_THREADS} threads, warm-up {:?}, measured {:?} per case",
            self.opts.connections, self.opts.warmup, self.opts.duration
        );
        println!("cache: {}   temporary files: {}", self.cache.display(), self.tmp.display());
        let started = Instant::now();
        for (case, what) in CASES {
            if !self.selected(case) {
                continue;
            }
            println!("\n== {case}: {what}");
            let t = Instant::now();
            if let Err(why) = self.run_case(case) {
                println!("   {case} could not run: {why}");
                self.report.failed(case, &why);
            }
            println!("   ({:.1} s)", t.elapsed().as_secs_f64());
        }
        let failed_targets = self.summary(&machine, started.elapsed());
        let code = if self.report.errors > 0 {
            println!(
                "\nRESULT: errors ({}); temporary files kept in {}",
                self.report.errors,
                self.tmp.display()
            );
            1
        } else if failed_targets > 0 && !self.opts.quick {
            println!("\nRESULT: no errors; {failed_targets} target(s) missed");
            3
        } else {
            if failed_targets > 0 {
                println!("\nRESULT: no errors ({failed_targets} target(s) missed; not failing a --quick run)");
            } else {
                println!("\nRESULT: no errors, every target measured was met");
            }
            0
        };
        // The servers' logs are kept for a look at what went wrong; otherwise nothing is left.
        if self.report.errors == 0 {
            let _ = fs::remove_dir_all(&self.tmp);
        }
        ExitCode::from(code)
    }

    fn mode(&self) -> &'static str {
        if self.opts.quick {
            "quick"
        } else {
            "full"
        }
    }

    fn run_case(&mut self, case: &str) -> Result<(), String> {
        match case {
            "ceiling-http" => self.ceiling_http(),
            "ceiling-storage" => self.ceiling_storage(),
            "empty-poll" | "get-chat" | "send-many" | "send-hot" | "request-chat" => {
                self.small_case(case)
            }
            "mix" => self.mix(),
            "send-many-big" | "send-hot-big" | "poll-big" => self.big_case(case),
            "scheduler-tick" => self.scheduler_tick(),
            "scheduler-lateness" => self.scheduler_lateness(),
            "startup" => self.startup(),
            "rss" => self.rss(),
            other => Err(format!("no such case {other}")),
        }
    }

    // ---------------------------------------------------------------- processes and files

    /// A new path in the temporary folder: `NN-label` + `suffix`.
    fn tmp_path(&mut self, label: &str, suffix: &str) -> PathBuf {
        self.seq += 1;
        self.tmp.join(format!("{:02}-{label}{suffix}", self.seq))
    }

    /// Starts this program as a server (`--serve-emulator ARGS` or `--serve-ceiling`).
    fn spawn(&mut self, mode: &str, label: &str, args: &[String]) -> Result<ServerProc, String> {
        let log_dir = self.tmp_path(label, "-logs");
        fs::create_dir_all(&log_dir)
            .map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
        let stderr_path = log_dir.join("stderr.txt");
        let stderr = File::create(&stderr_path)
            .map_err(|e| format!("cannot create {}: {e}", stderr_path.display()))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg(mode);
        if mode == "--serve-emulator" {
            cmd.args(["--port", "0", "--bind", "127.0.0.1", "--seed", "42", "--log-dir"]);
            cmd.arg(&log_dir);
            cmd.args(args);
        }
        // The emulator reads GWS_* and PORT; a value in the caller's environment must not change
        // what is measured.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("GWS_") || k == "PORT" {
                cmd.env_remove(&key);
            }
        }
        // GWS_BENCH_LOG=info measures with the emulator's default one line per request.
        let level = std::env::var("GWS_BENCH_LOG").unwrap_or_else(|_| "warn".to_string());
        cmd.env("RUST_LOG", level).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(stderr);
        let spawned = Instant::now();
        let mut child =
            cmd.spawn().map_err(|e| format!("cannot start {}: {e}", self.exe.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Later lines (none expected) are drained and dropped.
                let _ = tx.send((line, Instant::now()));
            }
        });
        let mut server = ServerProc {
            child,
            stdin,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            started_in: Duration::ZERO,
            log_dir: log_dir.clone(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((line, at)) => {
                    if let Some(addr) = listening_addr(&line) {
                        server.addr = addr;
                        server.started_in = at - spawned;
                        return Ok(server);
                    }
                }
                Err(e) => {
                    server.shutdown();
                    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
                    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    return Err(format!(
                        "the {label} server did not start ({}): {}",
                        if matches!(e, mpsc::RecvTimeoutError::Timeout) {
                            "no listening line in 60 s"
                        } else {
                            "it exited"
                        },
                        tail.join(" | ")
                    ));
                }
            }
        }
    }

    fn spawn_emulator(
        &mut self,
        label: &str,
        db: &Path,
        args: &[&str],
    ) -> Result<ServerProc, String> {
        let mut all = vec!["--db".to_string(), db.display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        self.spawn("--serve-emulator", label, &all)
    }

    /// A fresh copy of a cached database in the temporary folder.
    fn copy_db(&mut self, cached: &Path, label: &str) -> Result<PathBuf, String> {
        let dest = self.tmp_path(label, ".db");
        fs::copy(cached, &dest)
            .map_err(|e| format!("cannot copy {} to {}: {e}", cached.display(), dest.display()))?;
        Ok(dest)
    }

    /// The cached database of `kind`, seeded first if it is not there yet.
    fn cached_db(&self, kind: DbKind) -> Result<PathBuf, String> {
        let name = kind.file_name(&self.sizes);
        let path = self.cache.join(&name);
        if path.exists() {
            println!("   database: cached {}", path.display());
            return Ok(path);
        }
        // Leftovers of a seeding that was interrupted (its process is gone) are removed.
        let prefix = format!("{name}.tmp-");
        for entry in fs::read_dir(&self.cache).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = file.strip_prefix(&prefix) else { continue };
            let pid = rest.split('-').next().unwrap_or_default();
            if !Path::new("/proc").join(pid).exists() {
                let _ = fs::remove_file(entry.path());
            }
        }
        let tmp = self.cache.join(format!("{prefix}{}", std::process::id()));
        remove_db(&tmp);
        let t = Instant::now();
        let messages = seed(&tmp, kind, &self.sizes).map_err(|e| {
            remove_db(&tmp);
            format!("seeding {name} failed: {e}")
        })?;
        fs::rename(&tmp, &path)
            .map_err(|e| format!("cannot move the seeded database into {}: {e}", path.display()))?;
        // seed() checked that the write-ahead log is empty; a connection of the pool that
        // Store::open started may have kept SQLite from deleting it and its index.
        remove_db(&tmp);
        println!(
            "   database: seeded {} ({messages} messages) in {:.1} s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
        Ok(path)
    }

    // ---------------------------------------------------------------- load

    /// Spreads `requests` over the connections: connection j gets j, j+C, j+2C, … (cycled), so
    /// every request in the list is used and neighbouring connections hit different chats.
    fn spread(&self, requests: Vec<Vec<u8>>) -> ConnRequests {
        let c = self.opts.connections;
        let n = requests.len();
        (0..c)
            .map(|j| {
                let mine: Vec<Vec<u8>> = if j < n {
                    (j..n).step_by(c).map(|i| requests[i].clone()).collect()
                } else {
                    vec![requests[j % n].clone()]
                };
                Arc::new(mine)
            })
            .collect()
    }

    fn closed_loop(&mut self, case: &str, server: ServerProc, conns: ConnRequests, note: &str) {
        // One request first, shown, so a case that answers something unexpected is seen at once.
        let mut probe_error = None;
        match probe(server.addr, &conns[0][0]) {
            Ok((status, body)) => {
                println!("   probe: HTTP {status} {}", body.chars().take(160).collect::<String>());
                if !(200..300).contains(&status) || !body.contains("\"statusCode\":0") {
                    probe_error = Some(format!("probe answered HTTP {status}"));
                }
            }
            Err(e) => probe_error = Some(format!("probe: {e}")),
        }
        let mut stats = run_closed(server.addr, conns, self.opts.warmup, self.opts.duration);
        if let Some(e) = probe_error {
            stats.error(e);
        }
        let log = server.stop();
        if log.errors > 0 {
            stats.errors.insert("server logged errors".into(), log.errors as u64);
        }
        let note = join_notes(note, &log.note().unwrap_or_default());
        self.report.load_row(case, "req/s", &mut stats, self.opts.duration, note);
    }

    // ---------------------------------------------------------------- cases

    fn ceiling_http(&mut self) -> Result<(), String> {
        let server = self.spawn("--serve-ceiling", "ceiling", &[])?;
        let host = server.host();
        // The very requests of empty-poll, so only the server differs.
        let requests = (1..=self.sizes.small_chats)
            .map(|r| get_req(&host, &format!("/api/v2/chats/{}/messages", chat_uuid(r))))
            .collect();
        let conns = self.spread(requests);
        self.closed_loop("ceiling-http", server, conns, "");
        Ok(())
    }

    fn ceiling_storage(&mut self) -> Result<(), String> {
        let path = self.tmp_path("ceiling-storage", ".db");
        let mut stats = storage_ceiling(&path, self.opts.warmup, self.opts.duration)
            .map_err(|e| format!("SQLite: {e}"))?;
        remove_db(&path);
        let note = "single thread; BEGIN IMMEDIATE, INSERT, COMMIT; WAL, synchronous NORMAL, foreign_keys ON, busy_timeout 10 s";
        self.report.load_row(
            "ceiling-storage",
            "tx/s",
            &mut stats,
            self.opts.duration,
            note.into(),
        );
        Ok(())
    }

    fn small_case(&mut self, case: &str) -> Result<(), String> {
        let cached = self.cached_db(DbKind::Small)?;
        let db = self.copy_db(&cached, case)?;
        let chats = read_chats(&db)?;
        let args: &[&str] =
            if case == "request-chat" { &["--agent-join-delay", "1h"] } else { MANUAL };
        let server = self.spawn_emulator(case, &db, args)?;
        let host = server.host();
        let n = chats.ids.len();
        let requests: Vec<Vec<u8>> = match case {
            "empty-poll" => chats
                .ids
                .iter()
                .map(|id| get_req(&host, &format!("/api/v2/chats/{id}/messages")))
                .collect(),
            "get-chat" => {
                chats.ids.iter().map(|id| get_req(&host, &format!("/api/v2/chats/{id}"))).collect()
            }
            "send-many" => chats
                .ids
                .iter()
                .map(|id| post_req(&host, &format!("/api/v2/chats/{id}"), SEND_BODY))
                .collect(),
            "send-hot" => {
                vec![post_req(&host, &format!("/api/v2/chats/{}", chats.ids[0]), SEND_BODY)]
            }
            _ => vec![post_req(&host, "/api/v2/chats", REQUEST_CHAT_BODY)],
        };
        let note = match case {
            "send-hot" => "one chat".to_string(),
            "request-chat" => format!("{n} chats in the database before"),
            _ => format!("{n} chats of 5 messages"),
        };
        let conns = self.spread(requests);
        self.closed_loop(case, server, conns, &note);
        remove_db(&db);
        Ok(())
    }

    fn big_case(&mut self, case: &str) -> Result<(), String> {
        let cached = self.cached_db(DbKind::Big)?;
        let db = self.copy_db(&cached, case)?;
        let chats = read_chats(&db)?;
        // rowid 1 is the chat of `hot_msgs` messages; the others have `big_msgs` each.
        let (hot, others) = chats.ids.split_first().ok_or("the big database has no chats")?;
        let server = self.spawn_emulator(case, &db, MANUAL)?;
        let host = server.host();
        let requests: Vec<Vec<u8>> = match case {
            "send-many-big" => others
                .iter()
                .map(|id| post_req(&host, &format!("/api/v2/chats/{id}"), SEND_BODY))
                .collect(),
            "send-hot-big" => vec![post_req(&host, &format!("/api/v2/chats/{hot}"), SEND_BODY)],
            _ => vec![get_req(&host, &format!("/api/v2/chats/{hot}/messages"))],
        };
        let note = match case {
            "send-many-big" => format!(
                "{} chats of {} messages; {} messages in all",
                others.len(),
                self.sizes.big_msgs,
                self.sizes.big_total()
            ),
            _ => format!(
                "the chat of {} messages; {} messages in all",
                chats.last[0],
                self.sizes.big_total()
            ),
        };
        let conns = self.spread(requests);
        self.closed_loop(case, server, conns, &note);
        remove_db(&db);
        Ok(())
    }

    fn mix(&mut self) -> Result<(), String> {
        let cached = self.cached_db(DbKind::Small)?;
        let db = self.copy_db(&cached, "mix")?;
        let chats = read_chats(&db)?;
        let widgets = self.sizes.mix_widgets.min(chats.ids.len());
        let senders = self.sizes.mix_senders.min(widgets);
        // The widgets' chats get the contact centre's usual work: a system message every 20 s
        // (spread) and the inactivity check; the other chats' jobs stay far in the future.
        {
            let conn = open_plain(&db)?;
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
        let server = self.spawn_emulator("mix", &db, &["--agent-mode", "bot"])?;
        let duration = self.opts.duration.max(Duration::from_secs(1));
        let spec = MixSpec {
            addr: server.addr,
            widgets: chats.ids[..widgets]
                .iter()
                .cloned()
                .zip(chats.last[..widgets].iter().map(|l| l + 1))
                .collect(),
            senders,
            connections: self.sizes.mix_connections,
            warmup: self.opts.warmup,
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
        self.report.metrics.insert("rss.mix_peak".into(), mib(peak));
        let log = server.stop();
        if log.errors > 0 {
            result.poll.errors.insert("server logged errors".into(), log.errors as u64);
        }
        let scheduled = format!(
            "{widgets} widgets polling GetTranscript?index=N every second over {} connections; {} new messages received; server peak RSS {:.1} MiB",
            self.sizes.mix_connections,
            result.received,
            mib(peak)
        );
        self.report.load_row(
            "mix poll",
            "req/s",
            &mut result.poll,
            duration,
            join_notes(&scheduled, &log.note().unwrap_or_default()),
        );
        self.report.load_row(
            "mix send",
            "req/s",
            &mut result.send,
            duration,
            format!("{senders} senders, one SendMessage a second each (bot replies after 0-2 s)"),
        );
        remove_db(&db);
        Ok(())
    }

    fn scheduler_tick(&mut self) -> Result<(), String> {
        let cached = self.cached_db(DbKind::Tick)?;
        let db = self.copy_db(&cached, "scheduler-tick")?;
        let store = Store::open(&db).map_err(|e| e.0)?;
        let sim = std::sync::Arc::new(Sim::from_config(&Config::default()));
        let stop = StopFlag::default();
        let mut stats = Stats::default();
        let mut ran_jobs = 0;
        let warm_until = Instant::now() + self.opts.warmup.min(Duration::from_millis(500));
        while Instant::now() < warm_until {
            let _ = scheduler::run_due(&store, &sim, &stop);
        }
        let end = Instant::now() + self.opts.duration;
        let mut ticks = 0u64;
        while Instant::now() < end && ticks < 1_000_000 {
            let t = Instant::now();
            let result = scheduler::run_due(&store, &sim, &stop);
            // Nanoseconds, not µs: a tick is far below a millisecond.
            let took = t.elapsed().as_nanos().min(u32::MAX as u128) as u32;
            ticks += 1;
            match result {
                Ok(0) => stats.lat_us.push(took),
                Ok(n) => {
                    ran_jobs += n;
                    stats.error("a job was due (the seeded jobs must be far in the future)");
                }
                Err(e) => stats.error(format!("run_due: {e}")),
            }
        }
        drop(store);
        remove_db(&db);
        // lat_us holds nanoseconds here.
        let s = stats.summary();
        let us = |ns: f64| format!("{:.1} µs", ns / 1000.0);
        self.report.metrics.insert("scheduler-tick.mean_us".into(), s.mean / 1000.0);
        self.report.metrics.insert("scheduler-tick.p99_us".into(), s.p99 / 1000.0);
        let errors = stats.error_count();
        let mut note = format!(
            "{} open chats; mean {} per tick; {ticks} ticks",
            self.sizes.tick_chats,
            us(s.mean)
        );
        if errors > 0 {
            note =
                join_notes(&note, &format!("errors: {} ({ran_jobs} jobs ran)", stats.error_text()));
        }
        self.report.row(Row {
            case: "scheduler-tick".into(),
            rate: format!("{:.0} ticks/s", ticks as f64 / self.opts.duration.as_secs_f64()),
            p50: us(s.p50),
            p99: us(s.p99),
            max: us(s.max),
            errors,
            note,
        });
        Ok(())
    }

    fn scheduler_lateness(&mut self) -> Result<(), String> {
        let cached = self.cached_db(DbKind::Late)?;
        let db = self.copy_db(&cached, "scheduler-lateness")?;
        let n = self.sizes.late_chats;
        let spread = self.sizes.late_spread.as_millis() as i64;
        let reply_delay = 100;
        let server = self.spawn_emulator(
            "scheduler-lateness",
            &db,
            &[
                "--agent-mode",
                "bot",
                "--reply-delay",
                "100ms",
                "--bot-typing",
                "false",
                "--system-message-interval",
                "0",
                "--idle-timeout",
                "0",
            ],
        )?;
        // Now that it runs, the joins fall due over the next `spread` ms, starting in 300 ms.
        let mut conn = open_plain(&db)?;
        let due: HashMap<i64, i64> = {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| e.to_string())?;
            let t0 = now_ms() + 300;
            tx.execute(
                "UPDATE jobs SET due_at = ?1 + ((chat_rowid - 1) * ?2) / ?3 WHERE kind = 'agent_join'",
                params![t0, spread, n as i64],
            )
            .map_err(|e| e.to_string())?;
            let due = tx
                .prepare("SELECT chat_rowid, due_at FROM jobs WHERE kind = 'agent_join'")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(|e| e.to_string())?;
            tx.commit().map_err(|e| e.to_string())?;
            due
        };
        // Wait for every reply (or give up after a generous while).
        let expected_done =
            Instant::now() + Duration::from_millis((300 + spread + reply_delay) as u64);
        let give_up = expected_done + Duration::from_secs(if self.opts.quick { 10 } else { 30 });
        thread::sleep(expected_done.saturating_duration_since(Instant::now()));
        loop {
            let replies: i64 = conn
                .query_row(
                    "SELECT count(*) FROM messages WHERE participant_id = 3 AND type = 'Text'",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| e.to_string())?;
            if replies as usize >= n || Instant::now() >= give_up {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let log = server.stop();
        let mut joined: HashMap<i64, i64> = HashMap::new();
        let mut replied: HashMap<i64, i64> = HashMap::new();
        {
            let mut stmt = conn
                .prepare("SELECT chat_rowid, type, utc_time FROM messages WHERE participant_id = 3")
                .map_err(|e| e.to_string())?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(|e| e.to_string())?;
            for row in rows {
                let (chat, kind, at) = row.map_err(|e| e.to_string())?;
                match kind.as_str() {
                    "ParticipantJoined" => joined.insert(chat, at),
                    "Text" => replied.insert(chat, at),
                    _ => None,
                };
            }
        }
        drop(conn);
        remove_db(&db);
        let mut join_late = Vec::new();
        let mut reply_late = Vec::new();
        let (mut missing_join, mut missing_reply) = (0u64, 0u64);
        for (chat, due_at) in &due {
            match joined.get(chat) {
                Some(at) => {
                    join_late.push(at - due_at);
                    match replied.get(chat) {
                        Some(r) => reply_late.push(r - (at + reply_delay)),
                        None => missing_reply += 1,
                    }
                }
                None => {
                    missing_join += 1;
                    missing_reply += 1;
                }
            }
        }
        // How fast the scheduler got through the work: from the first join due to the last reply.
        let first_due = due.values().min().copied().unwrap_or(0);
        let last_done = replied.values().chain(joined.values()).max().copied().unwrap_or(first_due);
        let jobs = joined.len() + replied.len();
        let span_ms = (last_done - first_due).max(1);
        let rate_note = format!(
            "{jobs} jobs done in {span_ms} ms from the first due: {:.0} jobs/s (work arrived at {:.0}/s)",
            jobs as f64 * 1000.0 / span_ms as f64,
            2.0 * n as f64 * 1000.0 / spread.max(1) as f64
        );
        let server_note = join_notes(&rate_note, &log.note().unwrap_or_default());
        for (what, mut late, missing) in
            [("join", join_late, missing_join), ("reply", reply_late, missing_reply)]
        {
            late.sort_unstable();
            let (p50, p99, max) = (pct(&late, 0.5), pct(&late, 0.99), late.last().copied());
            if let Some(p99) = p99 {
                self.report.metrics.insert(format!("lateness.{what}.p99_ms"), p99 as f64);
            }
            let show = |v: Option<i64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
            let mut errors = missing;
            if what == "join" {
                errors += log.errors as u64;
            }
            let mut note = if what == "join" {
                format!("{n} chats, joins due over {spread} ms; lateness = ParticipantJoined utcTime - due time")
            } else {
                format!("reply delay {reply_delay} ms; lateness = reply utcTime - (join + {reply_delay} ms)")
            };
            if missing > 0 {
                note = join_notes(&note, &format!("{missing} chats without a {what}"));
            }
            if what == "join" {
                note = join_notes(&note, &server_note);
            }
            self.report.row(Row {
                case: format!("scheduler-lateness {what}"),
                rate: format!("{} done", late.len()),
                p50: show(p50),
                p99: show(p99),
                max: show(max),
                errors,
                note,
            });
        }
        Ok(())
    }

    fn startup(&mut self) -> Result<(), String> {
        let cached = self.cached_db(DbKind::Big)?;
        let mut times = Vec::new();
        for _ in 0..self.sizes.startup_runs {
            let db = self.copy_db(&cached, "startup")?;
            let server = self.spawn_emulator("startup", &db, &[])?;
            times.push(server.started_in.as_micros() as f64);
            drop(server);
            remove_db(&db);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        self.report.metrics.insert("startup.median_ms".into(), median / 1000.0);
        let runs: Vec<String> = times.iter().map(|t| format!("{:.0}", t / 1000.0)).collect();
        self.report.row(Row {
            case: "startup".into(),
            rate: format!("median {}", ms(median)),
            p50: ms(median),
            p99: "-".into(),
            max: ms(*times.last().unwrap_or(&0.0)),
            errors: 0,
            note: format!(
                "{} messages; runs (ms, sorted): {}",
                self.sizes.big_total(),
                runs.join(", ")
            ),
        });
        Ok(())
    }

    fn rss(&mut self) -> Result<(), String> {
        let mut idle = Vec::new();
        let empty = self.tmp_path("rss-empty", ".db");
        let cached = self.cached_db(DbKind::Big)?;
        let big = self.copy_db(&cached, "rss-big")?;
        let big_label = format!("database of {} messages", self.sizes.big_total());
        for (what, db) in [("empty database", &empty), (big_label.as_str(), &big)] {
            let server = self.spawn_emulator("rss", db, &[])?;
            thread::sleep(self.sizes.idle_wait);
            let rss = proc_memory(server.pid())
                .map(|(rss, _)| rss)
                .ok_or("cannot read /proc/PID/status")?;
            drop(server);
            idle.push((what, mib(rss)));
        }
        remove_db(&empty);
        remove_db(&big);
        let worst = idle.iter().map(|(_, m)| *m).fold(0.0, f64::max);
        self.report.metrics.insert("rss.idle".into(), worst);
        let peak = self.report.metric("rss.mix_peak");
        let mut note: Vec<String> =
            idle.iter().map(|(what, m)| format!("idle {m:.1} MiB ({what})")).collect();
        note.push(match peak {
            Some(p) => format!("peak during the mix {p:.1} MiB"),
            None => "peak during the mix: n/a (the mix case did not run)".into(),
        });
        self.report.row(Row {
            case: "rss".into(),
            rate: format!("idle {worst:.1} MiB"),
            p50: "-".into(),
            p99: "-".into(),
            max: peak.map_or("-".into(), |p| format!("{p:.1} MiB")),
            errors: 0,
            note: note.join("; "),
        });
        Ok(())
    }

    // ---------------------------------------------------------------- summary

    /// Prints the table and the targets; returns how many targets failed.
    fn summary(&self, machine: &str, took: Duration) -> usize {
        let mut out = String::new();
        let _ = writeln!(out, "\n== Summary ({} run, {:.0} s)", self.mode(), took.as_secs_f64());
        let _ = writeln!(out, "machine: {machine}");
        let _ = writeln!(out, "load average at the end: {}", loadavg());
        let _ = writeln!(
            out,
            "{:<26} {:>16} {:>10} {:>10} {:>10} {:>7}  notes",
            "case", "throughput", "p50", "p99", "max", "errors"
        );
        for r in &self.report.rows {
            let _ = writeln!(
                out,
                "{:<26} {:>16} {:>10} {:>10} {:>10} {:>7}  {}",
                r.case, r.rate, r.p50, r.p99, r.max, r.errors, r.note
            );
        }
        let m = |k: &str| self.report.metric(k);
        let ratio = |a: &str, b: &str| Some(m(a)? / m(b)?);
        struct Target {
            name: &'static str,
            shown: String,
            goal: &'static str,
            pass: Option<bool>,
        }
        let mk = |name: &'static str,
                  value: Option<f64>,
                  fmt: &dyn Fn(f64) -> String,
                  goal: &'static str,
                  ok: &dyn Fn(f64) -> bool| Target {
            name,
            shown: value.map_or("n/a".into(), fmt),
            goal,
            pass: value.map(ok),
        };
        let r2 = |v: f64| format!("{v:.2}");
        let within = |v: f64| v >= 0.85;
        let targets = [
            mk(
                "empty-poll / ceiling-http",
                ratio("empty-poll", "ceiling-http"),
                &r2,
                ">= 0.50",
                &|v| v >= 0.5,
            ),
            mk(
                "get-chat / ceiling-http",
                ratio("get-chat", "ceiling-http"),
                &r2,
                ">= 0.50",
                &|v| v >= 0.5,
            ),
            mk(
                "send-many / ceiling-storage",
                ratio("send-many", "ceiling-storage"),
                &r2,
                ">= 0.50 (aim > 1.0)",
                &|v| v >= 0.5,
            ),
            mk(
                "send-many-big / send-many",
                ratio("send-many-big", "send-many"),
                &r2,
                ">= 0.85",
                &within,
            ),
            mk(
                "send-hot-big / send-hot",
                ratio("send-hot-big", "send-hot"),
                &r2,
                ">= 0.85",
                &within,
            ),
            mk("poll-big / empty-poll", ratio("poll-big", "empty-poll"), &r2, ">= 0.85", &within),
            mk(
                "scheduler tick p99, 100k idle chats",
                m("scheduler-tick.p99_us"),
                &|v| format!("{v:.1} µs"),
                "< 1000 µs",
                &|v| v < 1000.0,
            ),
            mk(
                "lateness p99, agent join",
                m("lateness.join.p99_ms"),
                &|v| format!("{v:.0} ms"),
                "< 100 ms",
                &|v| v < 100.0,
            ),
            mk(
                "lateness p99, bot reply",
                m("lateness.reply.p99_ms"),
                &|v| format!("{v:.0} ms"),
                "< 100 ms",
                &|v| v < 100.0,
            ),
            mk(
                "startup median, 1M messages",
                m("startup.median_ms"),
                &|v| format!("{v:.0} ms"),
                "< 300 ms",
                &|v| v < 300.0,
            ),
            mk("idle RSS", m("rss.idle"), &|v| format!("{v:.1} MiB"), "< 30 MiB", &|v| v < 30.0),
            mk(
                "errors, all cases",
                Some(self.report.errors as f64),
                &|v| format!("{v:.0}"),
                "0",
                &|v| v == 0.0,
            ),
        ];
        let _ = writeln!(
            out,
            "\n== Targets{}",
            if self.opts.quick { " (a --quick run: tiny sizes, informative only)" } else { "" }
        );
        let _ = writeln!(out, "{:<38} {:>12}  {:<22} result", "target", "measured", "goal");
        let mut failed = 0;
        for t in &targets {
            let result = match t.pass {
                Some(true) => "PASS",
                Some(false) => {
                    failed += 1;
                    "FAIL"
                }
                None => "n/a (case not run)",
            };
            let _ = writeln!(out, "{:<38} {:>12}  {:<22} {result}", t.name, t.shown, t.goal);
        }
        print!("{out}");
        failed
    }
}

fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening on http://").nth(1)?;
    rest.trim_end_matches('/').split('/').next()?.parse().ok()
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = fs::remove_file(PathBuf::from(p));
    }
}

/// A plain connection with the emulator's busy timeout, for preparing and reading a database.
fn open_plain(path: &Path) -> Result<Connection, String> {
    let conn =
        Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    Ok(conn)
}

fn read_chats(path: &Path) -> Result<Chats, String> {
    let conn = open_plain(path)?;
    let mut stmt = conn
        .prepare("SELECT id, last_index FROM chats ORDER BY rowid")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| e.to_string())?;
    if rows.is_empty() {
        return Err(format!("{} has no chats", path.display()));
    }
    let (ids, last) = rows.into_iter().unzip();
    Ok(Chats { ids, last })
}

fn machine() -> String {
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

// ------------------------------------------------------------------------------------------
// Seeding

#[derive(Clone, Copy)]
enum DbKind {
    /// `small_chats` open chats (Chatting, agent present) of 5 messages, everything read.
    Small,
    /// One open chat of `hot_msgs` messages (rowid 1), then `big_chats` of `big_msgs`.
    Big,
    /// `tick_chats` open chats of 5 messages.
    Tick,
    /// `late_chats` chats waiting for an agent, each with a customer question to answer.
    Late,
}

impl DbKind {
    fn file_name(self, s: &Sizes) -> String {
        let what = match self {
            DbKind::Small => format!("small-{}x5", s.small_chats),
            DbKind::Big => format!("big-1x{}-{}x{}", s.hot_msgs, s.big_chats, s.big_msgs),
            DbKind::Tick => format!("tick-{}x5", s.tick_chats),
            DbKind::Late => format!("late-{}", s.late_chats),
        };
        format!("{what}-schema{:08x}-v{SEED_VERSION}.db", schema_hash())
    }
}

/// Changes when a migration is added or edited, so cached databases follow the schema.
fn schema_hash() -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, sql) in MIGRATIONS {
        for b in name.bytes().chain(sql.bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (h ^ (h >> 32)) as u32
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The chat id of rowid `r` in every seeded database: a deterministic UUID v4.
fn chat_uuid(r: usize) -> String {
    let mut x = r as u64;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&splitmix(&mut x).to_le_bytes());
    bytes[8..].copy_from_slice(&splitmix(&mut x).to_le_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
}

const CUSTOMER_TEXTS: &[&str] = &[
    "Hello, I ordered a blue jacket last week and it has not arrived yet?",
    "The tracking number is 1Z999AA10123456784.",
    "Can I change the delivery address to my office instead?",
    "Thanks, that helps a lot!",
];
const AGENT_TEXTS: &[&str] = &["Good question...", "Ok.", "Neat.", "Let me check that for you."];

/// Creates the database with `Store::open` (the schema), then bulk-inserts the rows with one
/// connection, in big transactions with prepared statements. Returns the number of messages.
fn seed(path: &Path, kind: DbKind, s: &Sizes) -> Result<usize, String> {
    drop(Store::open(path).map_err(|e| e.0)?);
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    let messages = seed_rows(&conn, kind, s).map_err(|e| format!("SQLite: {e}"))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(|e| e.to_string())?;
    conn.close().map_err(|(_, e)| e.to_string())?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0) {
        return Err("the write-ahead log was not checkpointed".into());
    }
    Ok(messages)
}

fn seed_rows(conn: &Connection, kind: DbKind, s: &Sizes) -> rusqlite::Result<usize> {
    // This connection only: every row is checked against the foreign keys, nothing is synced
    // until the end (a crash while seeding leaves a .tmp file that is seeded again).
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;",
    )?;
    let mut chat = conn.prepare(
        "INSERT INTO chats (rowid, id, nickname, subject, user_data, endpoint, state, last_index,
                            created_at, last_customer_activity, ended_at)
         VALUES (?1, ?2, ?3, ?4, NULL, NULL, ?5, ?6, ?7, ?8, NULL)",
    )?;
    let mut participant = conn.prepare(
        "INSERT INTO participants (chat_rowid, participant_id, nickname, type, joined_at, left_at)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
    )?;
    let mut message = conn.prepare(
        "INSERT INTO messages (chat_rowid, idx, type, participant_id, text, url, utc_time)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
    )?;
    let mut cursor = conn.prepare(
        "INSERT INTO read_cursors (chat_rowid, reader, last_read_index) VALUES (?1, ?2, ?3)",
    )?;
    let mut job = conn
        .prepare("INSERT INTO jobs (chat_rowid, kind, due_at, reply_to) VALUES (?1, ?2, ?3, ?4)")?;

    let (chats, waiting) = match kind {
        DbKind::Small => (s.small_chats, false),
        DbKind::Big => (s.big_chats + 1, false),
        DbKind::Tick => (s.tick_chats, false),
        DbKind::Late => (s.late_chats, true),
    };
    let msgs_of = |r: usize| match kind {
        DbKind::Big if r == 1 => s.hot_msgs,
        DbKind::Big => s.big_msgs,
        DbKind::Late => 3,
        _ => 5,
    };
    let base = now_ms() - 7 * 86_400_000;
    let mut total = 0;
    let mut in_tx = 0;
    conn.execute_batch("BEGIN")?;
    for r in 1..=chats {
        let created = base + r as i64 * 1000;
        let m = msgs_of(r).max(3);
        let nickname = format!("Customer {r}");
        let at = |k: usize| created + k as i64 * 50;
        // The newest customer Text: index 3 when waiting, else the highest even index from 4.
        let last_customer = match (waiting, m) {
            (true, _) => at(3),
            (false, m) if m >= 4 => at(m - m % 2),
            _ => created,
        };
        // Open chats: customer, system, agent joined, then questions and answers alternate.
        // Waiting chats: customer and system joined, one question waits for an agent.
        for k in 1..=m {
            let (kind, from, text): (&str, i64, Option<&str>) = match (waiting, k) {
                (_, 1) => ("ParticipantJoined", 1, None),
                (_, 2) => ("ParticipantJoined", 2, None),
                (true, _) => ("Text", 1, Some("Are you there?")),
                (false, 3) => ("ParticipantJoined", 3, None),
                (false, k) if k % 2 == 0 => {
                    ("Text", 1, Some(CUSTOMER_TEXTS[(k / 2) % CUSTOMER_TEXTS.len()]))
                }
                (false, k) => ("Text", 3, Some(AGENT_TEXTS[(k / 2) % AGENT_TEXTS.len()])),
            };
            if k == 1 {
                let state = if waiting { "WaitingForAgent" } else { "Chatting" };
                chat.execute(params![
                    r as i64,
                    chat_uuid(r),
                    nickname,
                    "Benchmark",
                    state,
                    m as i64,
                    created,
                    last_customer
                ])?;
                participant.execute(params![r as i64, 1, nickname, "Customer", created])?;
                participant.execute(params![r as i64, 2, "system", "External", created])?;
                if !waiting {
                    participant.execute(params![r as i64, 3, "Kate", "Agent", created + 150])?;
                }
            }
            message.execute(params![r as i64, k as i64, kind, from, text, at(k)])?;
        }
        cursor.execute(params![r as i64, "customer", m as i64])?;
        cursor.execute(params![r as i64, "agent", if waiting { 0 } else { m as i64 }])?;
        if waiting {
            job.execute(params![r as i64, "agent_join", FAR_FUTURE, None::<i64>])?;
            job.execute(params![r as i64, "bot_reply", None::<i64>, 3])?;
        } else {
            job.execute(params![r as i64, "system_message", FAR_FUTURE, None::<i64>])?;
            job.execute(params![r as i64, "idle_timeout", FAR_FUTURE, None::<i64>])?;
        }
        total += m;
        in_tx += m + 8;
        if in_tx >= 200_000 {
            conn.execute_batch("COMMIT; BEGIN")?;
            in_tx = 0;
        }
    }
    conn.execute_batch("COMMIT")?;
    Ok(total)
}

// ------------------------------------------------------------------------------------------
// The storage ceiling

/// One small INSERT per `BEGIN IMMEDIATE` transaction, as fast as one thread can, on a
/// connection opened and configured exactly as the emulator's.
fn storage_ceiling(path: &Path, warmup: Duration, duration: Duration) -> rusqlite::Result<Stats> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let mut conn = Connection::open_with_flags(path, flags)?;
    // The emulator's configure() and open_pool().
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    assert!(mode.eq_ignore_ascii_case("wal"), "SQLite refused WAL mode ({mode})");
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS appends (
             chat_rowid INTEGER NOT NULL,
             idx        INTEGER NOT NULL,
             text       TEXT,
             utc_time   INTEGER NOT NULL,
             PRIMARY KEY (chat_rowid, idx)
         ) WITHOUT ROWID;",
    )?;
    let mut stats = Stats::default();
    let measure = Instant::now() + warmup;
    let end = measure + duration;
    let mut i: i64 = 0;
    loop {
        let start = Instant::now();
        if start >= end {
            break;
        }
        i += 1;
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO appends (chat_rowid, idx, text, utc_time) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![i % 1000, i, "Is my order on its way?", now_ms()])?;
            tx.commit()
        })();
        let done = Instant::now();
        match result {
            Ok(()) if start >= measure && done <= end => stats.record(done - start),
            Ok(()) => {}
            Err(e) => stats.error(format!("SQLite: {e}")),
        }
    }
    Ok(stats)
}

// ------------------------------------------------------------------------------------------
// HTTP/1.1 load

fn get_req(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n").into_bytes()
}

fn post_req(host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[derive(Debug, PartialEq)]
struct Head {
    status: u16,
    /// Where the body lies in the read buffer.
    body: std::ops::Range<usize>,
    close: bool,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Parses a response head (without its final blank line): status, Content-Length, whether the
/// server closes the connection.
fn parse_head(head: &[u8]) -> io::Result<(u16, usize, bool)> {
    let text = std::str::from_utf8(head).map_err(|_| bad("bad response: head not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad("bad response: not HTTP/1.x"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad response: status line"))?;
    let mut len = None;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            len = Some(value.parse::<usize>().map_err(|_| bad("bad response: Content-Length"))?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("bad response: chunked (no Content-Length)"));
        }
    }
    let len = match len {
        Some(n) => n,
        None if status == 204 || status == 304 || (100..200).contains(&status) => 0,
        None => return Err(bad("bad response: no Content-Length")),
    };
    Ok((status, len, close))
}

fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn read_some(stream: &TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 8192];
    loop {
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ))
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends one request and reads its whole response into `buf`.
async fn exchange(stream: &TcpStream, req: &[u8], buf: &mut Vec<u8>) -> io::Result<Head> {
    let mut sent = 0;
    while sent < req.len() {
        stream.writable().await?;
        match stream.try_write(&req[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    buf.clear();
    let head_end = loop {
        if let Some(pos) = find_blank_line(buf) {
            break pos;
        }
        if buf.len() > 64 * 1024 {
            return Err(bad("bad response: head over 64 KiB"));
        }
        read_some(stream, buf).await?;
    };
    let (status, len, close) = parse_head(&buf[..head_end])?;
    let start = head_end + 4;
    while buf.len() < start + len {
        read_some(stream, buf).await?;
    }
    Ok(Head { status, body: start..start + len, close })
}

/// One request over a plain blocking socket: its status and body.
fn probe(addr: SocketAddr, req: &[u8]) -> io::Result<(u16, String)> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.write_all(req)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find_blank_line(&buf) {
            let (status, len, _) = parse_head(&buf[..end])?;
            if buf.len() >= end + 4 + len {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                return Ok((status, body));
            }
        }
        match stream.read(&mut chunk)? {
            0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")),
            n => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn io_error_kind(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::InvalidData => e.to_string(),
        kind => format!("I/O: {kind}"),
    }
}

/// One closed-loop connection: request, whole response, next request, until `end`. Latencies
/// of the successful requests that started after `measure` and ended before `end` are kept.
async fn closed_conn(
    addr: SocketAddr,
    reqs: Arc<Vec<Vec<u8>>>,
    measure: Instant,
    end: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut i = 0;
    loop {
        let start = Instant::now();
        if start >= end {
            break;
        }
        let stream = match conn.take() {
            Some(s) => s,
            None => match connect(addr).await {
                Ok(s) => s,
                Err(e) => {
                    stats.error(format!("connect: {}", e.kind()));
                    actix_web::rt::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let req = &reqs[i % reqs.len()];
        i += 1;
        match actix_web::rt::time::timeout(REQUEST_TIMEOUT, exchange(&stream, req, &mut buf)).await
        {
            Ok(Ok(head)) => {
                let done = Instant::now();
                if (200..300).contains(&head.status) {
                    if start >= measure && done <= end {
                        stats.record(done - start);
                    }
                } else {
                    stats.error(format!("HTTP {}", head.status));
                }
                if !head.close {
                    conn = Some(stream);
                }
            }
            Ok(Err(e)) => stats.error(io_error_kind(&e)),
            Err(_) => stats.error(format!("no answer in {} s", REQUEST_TIMEOUT.as_secs())),
        }
    }
    stats
}

/// Runs the closed-loop connections over `LOAD_THREADS` threads, each with its own event loop.
fn run_closed(
    addr: SocketAddr,
    conns: ConnRequests,
    warmup: Duration,
    duration: Duration,
) -> Stats {
    let measure = Instant::now() + warmup;
    let end = measure + duration;
    let mut per_thread: Vec<Vec<Arc<Vec<Vec<u8>>>>> = vec![Vec::new(); LOAD_THREADS];
    for (i, c) in conns.into_iter().enumerate() {
        per_thread[i % LOAD_THREADS].push(c);
    }
    let handles: Vec<_> = per_thread
        .into_iter()
        .map(|conns| {
            thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let tasks: Vec<_> = conns
                        .into_iter()
                        .map(|reqs| actix_web::rt::spawn(closed_conn(addr, reqs, measure, end)))
                        .collect();
                    let mut stats = Stats::default();
                    for task in tasks {
                        match task.await {
                            Ok(s) => stats.merge(s),
                            Err(_) => stats.error("a load task panicked"),
                        }
                    }
                    stats
                })
            })
        })
        .collect();
    let mut stats = Stats::default();
    for h in handles {
        match h.join() {
            Ok(s) => stats.merge(s),
            Err(_) => stats.error("a load thread panicked"),
        }
    }
    stats
}

struct MixSpec {
    addr: SocketAddr,
    /// Each widget's chat id and the index it asks for first (newest + 1).
    widgets: Vec<(String, i64)>,
    senders: usize,
    connections: usize,
    warmup: Duration,
    duration: Duration,
}

#[derive(Default)]
struct MixResult {
    poll: Stats,
    send: Stats,
    received: u64,
}

impl MixResult {
    fn kind(&mut self, send: bool) -> &mut Stats {
        if send {
            &mut self.send
        } else {
            &mut self.poll
        }
    }

    fn merge(&mut self, other: MixResult) {
        self.poll.merge(other.poll);
        self.send.merge(other.send);
        self.received += other.received;
    }
}

struct Actor {
    send: bool,
    chat: String,
    next: i64,
}

/// One connection of the open loop: its actors' requests in due order. A request is sent at its
/// due time or, if the connection is still busy, as soon as it is free; its latency counts from
/// the due time, so a slow server cannot hide its queue (no coordinated omission).
async fn mix_conn(
    addr: SocketAddr,
    host: Arc<str>,
    mut actors: Vec<(Instant, Actor)>,
    measure: Instant,
    end: Instant,
) -> MixResult {
    const PERIOD: Duration = Duration::from_secs(1);
    let mut out = MixResult::default();
    let mut heap: BinaryHeap<Reverse<(Instant, usize)>> =
        actors.iter().enumerate().map(|(i, (due, _))| Reverse((*due, i))).collect();
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(16 * 1024);
    while let Some(Reverse((due, a))) = heap.pop() {
        if due >= end {
            break;
        }
        heap.push(Reverse((due + PERIOD, a)));
        actix_web::rt::time::sleep_until(due.into()).await;
        let actor = &mut actors[a].1;
        let req = if actor.send {
            post_req(&host, &format!("/api/v2/chats/{}", actor.chat), SEND_BODY)
        } else {
            get_req(&host, &format!("/api/v2/chats/{}/messages?index={}", actor.chat, actor.next))
        };
        let counted = due >= measure;
        let send = actor.send;
        let stream = match conn.take() {
            Some(s) => s,
            None => match connect(addr).await {
                Ok(s) => s,
                Err(e) => {
                    out.kind(send).error(format!("connect: {}", e.kind()));
                    continue;
                }
            },
        };
        match actix_web::rt::time::timeout(REQUEST_TIMEOUT, exchange(&stream, &req, &mut buf)).await
        {
            Ok(Ok(head)) => {
                let done = Instant::now();
                if !(200..300).contains(&head.status) {
                    out.kind(send).error(format!("HTTP {}", head.status));
                } else if send {
                    if counted {
                        out.send.record(done - due);
                    }
                } else {
                    if counted {
                        out.poll.record(done - due);
                    }
                    match newest_index(&buf[head.body.clone()]) {
                        Ok(Some((newest, n))) => {
                            actor.next = actor.next.max(newest + 1);
                            out.received += n;
                        }
                        Ok(None) => {}
                        Err(e) => out.poll.error(e),
                    }
                }
                if !head.close {
                    conn = Some(stream);
                }
            }
            Ok(Err(e)) => out.kind(send).error(io_error_kind(&e)),
            Err(_) => out.kind(send).error(format!("no answer in {} s", REQUEST_TIMEOUT.as_secs())),
        }
    }
    out
}

/// The newest message index in a GetTranscript answer, and how many messages it had.
fn newest_index(body: &[u8]) -> Result<Option<(i64, u64)>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "bad transcript: not JSON".to_string())?;
    if v["statusCode"] != 0 {
        return Err("bad transcript: statusCode not 0".into());
    }
    let messages = v["messages"].as_array().ok_or("bad transcript: no messages array")?;
    let newest = messages.iter().filter_map(|m| m["index"].as_i64()).max();
    Ok(newest.map(|n| (n, messages.len() as u64)))
}

/// The realistic mix: every widget polls once a second (phases spread evenly over the second);
/// `senders` of them also send a message every second. Widgets are dealt to the connections, and
/// a sender shares its widget's connection, like a browser tab.
fn run_mix(spec: MixSpec) -> MixResult {
    let start = Instant::now() + Duration::from_millis(20);
    let measure = start + spec.warmup;
    let end = measure + spec.duration;
    let w = spec.widgets.len();
    let c = spec.connections.max(1);
    let mut per_conn: Vec<Vec<(Instant, Actor)>> = (0..c).map(|_| Vec::new()).collect();
    for (i, (chat, next)) in spec.widgets.iter().enumerate() {
        let phase = Duration::from_secs_f64(i as f64 / w as f64);
        per_conn[i % c]
            .push((start + phase, Actor { send: false, chat: chat.clone(), next: *next }));
    }
    let stride = (w / spec.senders.max(1)).max(1);
    for s in 0..spec.senders {
        let i = (s * stride) % w;
        let phase = Duration::from_secs_f64((s as f64 + 0.5) / spec.senders as f64);
        let chat = spec.widgets[i].0.clone();
        per_conn[i % c].push((start + phase, Actor { send: true, chat, next: 0 }));
    }
    let host: Arc<str> = Arc::from(spec.addr.to_string());
    let mut per_thread: Vec<Vec<Vec<(Instant, Actor)>>> =
        (0..LOAD_THREADS).map(|_| Vec::new()).collect();
    for (i, actors) in per_conn.into_iter().enumerate() {
        per_thread[i % LOAD_THREADS].push(actors);
    }
    let addr = spec.addr;
    let handles: Vec<_> = per_thread
        .into_iter()
        .map(|conns| {
            let host = host.clone();
            thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let tasks: Vec<_> = conns
                        .into_iter()
                        .map(|actors| {
                            actix_web::rt::spawn(mix_conn(addr, host.clone(), actors, measure, end))
                        })
                        .collect();
                    let mut out = MixResult::default();
                    for task in tasks {
                        match task.await {
                            Ok(r) => out.merge(r),
                            Err(_) => out.poll.error("a load task panicked"),
                        }
                    }
                    out
                })
            })
        })
        .collect();
    let mut out = MixResult::default();
    for h in handles {
        match h.join() {
            Ok(r) => out.merge(r),
            Err(_) => out.poll.error("a load thread panicked"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads_are_parsed() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 31\r\ncontent-type: application/json";
        assert_eq!(parse_head(head).unwrap(), (200, 31, false));
        let head = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0";
        assert_eq!(parse_head(head).unwrap(), (503, 0, true));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK").is_err());
        assert!(parse_head(b"SSH-2.0").is_err());
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(pct(&v, 0.5), Some(50));
        assert_eq!(pct(&v, 0.99), Some(99));
        assert_eq!(pct(&v, 1.0), Some(100));
        assert_eq!(pct::<u32>(&[], 0.5), None);
        assert_eq!(pct(&[7], 0.99), Some(7));
    }

    #[test]
    fn seeded_chat_ids_are_distinct_uuid_v4() {
        let a = chat_uuid(1);
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 4);
        assert_ne!(a, chat_uuid(2));
        assert_eq!(a, chat_uuid(1));
    }

    #[test]
    fn the_listening_line_gives_the_address() {
        let line = "gws-emulator listening on http://127.0.0.1:41234/";
        assert_eq!(listening_addr(line), Some("127.0.0.1:41234".parse().unwrap()));
        assert_eq!(listening_addr("something else"), None);
    }

    #[test]
    fn transcripts_give_their_newest_index() {
        let body = br#"{"messages":[{"index":6},{"index":7}],"statusCode":0}"#;
        assert_eq!(newest_index(body).unwrap(), Some((7, 2)));
        assert_eq!(newest_index(br#"{"messages":[],"statusCode":0}"#).unwrap(), None);
        assert!(newest_index(b"nope").is_err());
    }

    #[test]
    fn options_parse() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = Opts::parse(&args(&["--quick", "--only", "mix,rss", "--duration=2s"]))
            .unwrap()
            .unwrap();
        assert!(o.quick);
        assert_eq!(o.only, Some(vec!["mix", "rss"]));
        assert_eq!(o.duration, Duration::from_secs(2));
        assert!(Opts::parse(&args(&["--only", "nope"])).is_err());
        assert!(Opts::parse(&args(&["--help"])).unwrap().is_none());
    }
}
