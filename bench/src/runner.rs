//! A run of the benchmark: its options and sizes, its folders, the cases one after the other,
//! and what the cases share (temporary files, seeded databases, servers, the closed loop).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use gws_emulator::store::now_ms;

use crate::cases::{CASES, TARGETS};
use crate::cli::Opts;
use crate::client;
use crate::db;
use crate::load::{self, LOAD_THREADS};
use crate::procs::{self, ServerProc};
use crate::report::{self, join_notes, Report};
use crate::seed::DbKind;
use crate::serve::Server;
use crate::sizes::Sizes;

/// The state of a run, handed to every case.
pub struct Bench {
    pub opts: Opts,
    pub sizes: Sizes,
    pub report: Report,
    /// This program, started again as the servers.
    exe: PathBuf,
    /// This run's files (removed at the end unless something failed).
    tmp: PathBuf,
    /// Seeded databases, kept from run to run.
    cache: PathBuf,
    seq: usize,
}

impl Bench {
    pub fn new(opts: Opts) -> Result<Bench, String> {
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

    fn mode(&self) -> &'static str {
        if self.opts.quick {
            "quick"
        } else {
            "full"
        }
    }

    /// Runs the selected cases, prints the summary; the exit status (see `cli`).
    pub fn run(mut self) -> ExitCode {
        let machine = report::machine();
        println!("gws-bench {} ({} run)", env!("CARGO_PKG_VERSION"), self.mode());
        println!("machine: {machine}");
        println!(
            "load: {} keep-alive connections over {LOAD_THREADS} threads, warm-up {:?}, measured {:?} per case",
            self.opts.connections, self.opts.warmup, self.opts.duration
        );
        println!("cache: {}   temporary files: {}", self.cache.display(), self.tmp.display());
        let started = Instant::now();
        for case in CASES {
            if !self.selected(case.name) {
                continue;
            }
            println!("\n== {}: {}", case.name, case.what);
            let t = Instant::now();
            if let Err(why) = (case.run)(&mut self, case.name) {
                println!("   {} could not run: {why}", case.name);
                self.report.failed(case.name, &why);
            }
            println!("   ({:.1} s)", t.elapsed().as_secs_f64());
        }
        let failed_targets = self.report.print_summary(
            self.mode(),
            self.opts.quick,
            &machine,
            started.elapsed(),
            TARGETS,
        );
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

    // ---------------------------------------------------------------- for the cases

    /// A new path in the temporary folder: `NN-label` + `suffix`.
    pub fn tmp_path(&mut self, label: &str, suffix: &str) -> PathBuf {
        self.seq += 1;
        self.tmp.join(format!("{:02}-{label}{suffix}", self.seq))
    }

    /// The cached database of `kind`, seeded first if it is not there yet.
    pub fn cached_db(&self, kind: DbKind) -> Result<PathBuf, String> {
        db::cached(&self.cache, kind, &self.sizes)
    }

    /// A fresh copy of a cached database in the temporary folder.
    pub fn copy_db(&mut self, cached: &Path, label: &str) -> Result<PathBuf, String> {
        let dest = self.tmp_path(label, ".db");
        fs::copy(cached, &dest)
            .map_err(|e| format!("cannot copy {} to {}: {e}", cached.display(), dest.display()))?;
        // On disk before the case starts: otherwise the emulator's first checkpoints (an fsync of
        // the file) pay for writing back the whole copy, hundreds of MB for the big database.
        fs::File::open(&dest)
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("cannot sync {}: {e}", dest.display()))?;
        Ok(dest)
    }

    /// Starts the emulator on `db` with `args` (and a port, a log folder, a fixed seed).
    pub fn spawn_emulator(
        &mut self,
        label: &str,
        db: &Path,
        args: &[&str],
    ) -> Result<ServerProc, String> {
        let mut all = vec!["--db".to_string(), db.display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        let log_dir = self.tmp_path(label, "-logs");
        procs::spawn(&self.exe, Server::Emulator, label, log_dir, &all)
    }

    /// Starts the HTTP ceiling.
    pub fn spawn_ceiling(&mut self, label: &str) -> Result<ServerProc, String> {
        let log_dir = self.tmp_path(label, "-logs");
        procs::spawn(&self.exe, Server::Ceiling, label, log_dir, &[])
    }

    /// Measures `server` with the closed loop: `requests` spread over the connections, then
    /// the server stopped and the row added (its logged errors count as errors).
    pub fn closed_loop(
        &mut self,
        case: &str,
        server: ServerProc,
        requests: Vec<Vec<u8>>,
        note: &str,
    ) {
        let conns = load::spread(requests, self.opts.connections);
        // One request first, shown, so a case that answers something unexpected is seen at once.
        let mut probe_error = None;
        match client::probe(server.addr, &conns[0][0]) {
            Ok((status, body)) => {
                println!("   probe: HTTP {status} {}", body.chars().take(160).collect::<String>());
                if !(200..300).contains(&status) || !body.contains("\"statusCode\":0") {
                    probe_error = Some(format!("probe answered HTTP {status}"));
                }
            }
            Err(e) => probe_error = Some(format!("probe: {e}")),
        }
        let mut stats = load::run_closed(server.addr, conns, self.opts.warmup, self.opts.duration);
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
}
