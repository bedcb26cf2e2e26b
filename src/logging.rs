//! `log` + `env_logger`, written to the console and to `<log-dir>/chat.log`. The file is rotated
//! at `MAX_FILE_BYTES` (chat.log -> chat.log.1 -> … -> chat.log.3), so it never grows without
//! bound. `RUST_LOG` sets the level (default `info`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use env_logger::{Env, Target};

/// actix-http reports a client's malformed bytes as "stream error" at ERROR level: those are
/// answered 400 and are not the emulator's errors, so its lines are off unless RUST_LOG says so.
pub const DEFAULT_FILTER: &str = "info,actix_server=warn,actix_http=off";

pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
pub const KEEP_FILES: usize = 3;

/// A log file that rolls over to numbered copies once it reaches its size limit.
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
    keep: usize,
}

impl RotatingFile {
    pub fn open(path: PathBuf, max: u64, keep: usize) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile { path, file, size, max, keep })
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        p.into()
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..self.keep).rev() {
            let from = self.numbered(n);
            if from.exists() {
                fs::rename(&from, self.numbered(n + 1))?;
            }
        }
        fs::rename(&self.path, self.numbered(1))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size + buf.len() as u64 > self.max && self.size > 0 {
            // If rotating fails (the folder went away), keep writing where we can.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes every record to stderr and to the log file.
struct Tee {
    file: Mutex<RotatingFile>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        self.file.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// Creates the log folder and installs the logger. Returns a one-line error naming the folder.
pub fn init(log_dir: &Path) -> Result<(), String> {
    fs::create_dir_all(log_dir).map_err(|e| {
        format!(
            "cannot create the log folder {}: {e}; pick another with --log-dir",
            log_dir.display()
        )
    })?;
    let path = log_dir.join("chat.log");
    let file = RotatingFile::open(path.clone(), MAX_FILE_BYTES, KEEP_FILES).map_err(|e| {
        format!("cannot write the log file {}: {e}; pick another with --log-dir", path.display())
    })?;
    env_logger::Builder::from_env(Env::default().default_filter_or(DEFAULT_FILTER))
        .target(Target::Pipe(Box::new(Tee { file: Mutex::new(file) })))
        .format(|buf, record| {
            writeln!(buf, "{} {:<5} {}", buf.timestamp_millis(), record.level(), record.args())
        })
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_and_keeps_a_bounded_number_of_copies() {
        let dir = std::env::temp_dir().join(format!("gws-log-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chat.log");
        let mut f = RotatingFile::open(path.clone(), 100, 2).unwrap();
        for i in 0..50 {
            writeln!(f, "line {i:03} .............").unwrap();
        }
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["chat.log", "chat.log.1", "chat.log.2"]);
        for name in &names {
            assert!(fs::metadata(dir.join(name)).unwrap().len() <= 100);
        }
        assert!(fs::read_to_string(&path).unwrap().contains("line 049"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
