//! The server processes, seen from the benchmark: starting one (this program re-executed as
//! a [`Server`]), waiting for its listening line, stopping it, reading its log and its memory.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::serve::Server;

/// How long a server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A server child process, stopped (stdin closed, then killed if need be) when dropped.
pub struct ServerProc {
    child: Child,
    stdin: Option<ChildStdin>,
    pub addr: SocketAddr,
    /// From spawning the process to its listening line.
    pub started_in: Duration,
    log_dir: PathBuf,
}

/// Starts `exe` as `server` (with `args`, the emulator's options), its stderr in
/// `log_dir/stderr.txt`, and waits for its listening line. `label` names it in errors.
pub fn spawn(
    exe: &Path,
    server: Server,
    label: &str,
    log_dir: PathBuf,
    args: &[String],
) -> Result<ServerProc, String> {
    fs::create_dir_all(&log_dir)
        .map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
    let stderr_path = log_dir.join("stderr.txt");
    let stderr = File::create(&stderr_path)
        .map_err(|e| format!("cannot create {}: {e}", stderr_path.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg(server.flag());
    if server == Server::Emulator {
        cmd.args(["--port", "0", "--bind", "127.0.0.1", "--seed", "42", "--log-dir"]);
        cmd.arg(&log_dir);
        cmd.args(args);
        // GWS_BENCH_ARGS="--journal-size 0": options added to every emulator the run starts,
        // to measure what one costs (the environment's GWS_* are removed below).
        if let Ok(extra) = std::env::var("GWS_BENCH_ARGS") {
            cmd.args(extra.split_whitespace());
        }
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
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
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
    let mut proc = ServerProc {
        child,
        stdin,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        started_in: Duration::ZERO,
        log_dir,
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((line, at)) => {
                if let Some(addr) = listening_addr(&line) {
                    proc.addr = addr;
                    proc.started_in = at - spawned;
                    return Ok(proc);
                }
            }
            Err(e) => {
                proc.shutdown();
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

impl ServerProc {
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn pid(&self) -> u32 {
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
    pub fn stop(mut self) -> ServerLog {
        self.shutdown();
        ServerLog::read(&self.log_dir.join("stderr.txt"))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The address in a server's listening line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening on http://").nth(1)?;
    rest.trim_end_matches('/').split('/').next()?.parse().ok()
}

/// What a stopped server logged at WARN and ERROR.
#[derive(Default)]
pub struct ServerLog {
    pub warnings: usize,
    pub errors: usize,
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

    /// A note for the report, if the server logged anything.
    pub fn note(&self) -> Option<String> {
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
pub fn proc_memory(pid: u32) -> Option<(u64, u64)> {
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

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_the_address() {
        let line = "gws-emulator listening on http://127.0.0.1:41234/";
        assert_eq!(listening_addr(line), Some("127.0.0.1:41234".parse().unwrap()));
        assert_eq!(listening_addr("something else"), None);
    }

    #[test]
    fn server_logs_count_warnings_and_errors() {
        let dir = std::env::temp_dir().join(format!("gws-bench-log-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stderr.txt");
        fs::write(&path, "t INFO ok\nt WARN slow\nt ERROR broken\nt ERROR again\n").unwrap();
        let log = ServerLog::read(&path);
        assert_eq!((log.warnings, log.errors), (1, 2));
        assert_eq!(
            log.note().unwrap(),
            "server logged 2 error(s), 1 warning(s), first: t WARN slow"
        );
        assert!(ServerLog::read(&dir.join("none")).note().is_none());
        fs::remove_dir_all(&dir).unwrap();
    }
}
