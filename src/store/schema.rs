//! The database file: opening it (with its pragmas), the migrations of `migrations/` applied in
//! order and recorded, the clear one-line errors for a file that cannot be used, and the clean-up
//! of a write-ahead log left without its database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::Pool;
use crate::clock::{wall_ms, ClockState};

/// How the clock starts (`--clock`, `--clock-start`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClockStart {
    /// Frozen (true) or running (false); `None` keeps the stored state.
    pub freeze: Option<bool>,
    /// The emulator's time at start on a new database, in ms since the epoch.
    pub at: Option<i64>,
}

/// The schema migrations, in order. Version N is `MIGRATIONS[N - 1]`; `PRAGMA user_version`
/// records how many were applied, and `schema_migrations` lists them for people.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    (
        "0002_clock_scenarios_journal",
        include_str!("../../migrations/0002_clock_scenarios_journal.sql"),
    ),
];

/// How long a connection waits for another writer before giving up with `database is locked`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_SIZE: u32 = 16;

/// Why the emulator could not start on its database; each is one line naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(pub String);

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // NORMAL in WAL mode: a commit is in the WAL before it is acknowledged, so it survives a crash
    // of the process; a power loss may lose the last commits (see the README).
    // The write-ahead log's size is kept by the checkpointer (store/mod.rs), which truncates it
    // once writes stop, not by journal_size_limit, which would have every reset under load pay
    // for giving the file's blocks back.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The writer's connection. It does not checkpoint on commit (`start_checkpointer` does, off
/// the write path).
pub(super) fn open_writer(path: &Path) -> Result<Connection, OpenError> {
    let conn = Connection::open_with_flags(path, open_flags()).map_err(|e| open_error(path, e))?;
    configure(&conn).map_err(|e| open_error(path, e))?;
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0;").map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// What opening the file found.
pub(super) struct Opened {
    pub pool: Pool,
    /// The clock as stored (after `start` was applied).
    pub clock: ClockState,
}

/// Opens the database file, applies the migrations, sets the clock as `start` says, and builds
/// the connection pool.
pub(super) fn open_pool(path: &Path, start: ClockStart) -> Result<Opened, OpenError> {
    let shown = path.display();
    if path.is_dir() {
        return Err(OpenError(format!(
            "cannot use database {shown}: it is a folder; give a file path with --db"
        )));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            OpenError(format!(
                "cannot create the folder of database {shown}: {e}; pick a writable path with --db"
            ))
        })?;
    }
    remove_stale_wal(path)?;

    let flags = open_flags();
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    configure(&conn).map_err(|e| open_error(path, e))?;
    // Before WAL mode: that writes the file's first page, after which the auto-vacuum mode of a
    // new file can only be changed by a VACUUM.
    incremental_vacuum(&conn).map_err(|e| open_error(path, e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError(format!(
            "cannot use database {shown}: SQLite refused WAL mode (got {mode}); put it on a local disk"
        )));
    }
    let found = migrate(&mut conn).map_err(|e| match e {
        MigrateError::Newer(found) => OpenError(format!(
            "cannot use database {shown}: it was written by a newer gws-emulator (schema version {found}, \
             this one knows up to {}); upgrade the emulator, or delete the file to start over",
            MIGRATIONS.len()
        )),
        MigrateError::Sql(e) => open_error(path, e),
    })?;
    let clock = start_clock(&conn, start, found == 0).map_err(|e| open_error(path, e))?;
    drop(conn);

    let manager = SqliteConnectionManager::file(path)
        .with_flags(flags)
        .with_init(|c: &mut Connection| configure(c));
    let pool = r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(2))
        .connection_timeout(Duration::from_secs(30))
        .build(manager)
        .map_err(|e| OpenError(format!("cannot open database {shown}: {e}")))?;
    Ok(Opened { pool, clock })
}

/// Applies `--clock` and `--clock-start` to the stored clock: the start instant only on a new
/// database (time never goes back over what was written), the frozen state whenever given.
fn start_clock(
    conn: &Connection,
    start: ClockStart,
    created: bool,
) -> rusqlite::Result<ClockState> {
    let wall = wall_ms();
    let stored = read_clock(conn)?;
    let mut clock = stored;
    match start.at {
        Some(at) if created => clock = ClockState { offset_ms: at - wall, frozen_at: None },
        Some(_) => {
            log::warn!("--clock-start applies to a new database only; the stored clock is kept")
        }
        None => {}
    }
    if let Some(freeze) = start.freeze {
        clock = clock.frozen(freeze, wall);
    }
    if clock != stored {
        conn.execute(
            "UPDATE clock SET offset_ms = ?1, frozen_at = ?2 WHERE id = 1",
            rusqlite::params![clock.offset_ms, clock.frozen_at],
        )?;
    }
    Ok(clock)
}

/// Free pages are given back to the file system (`PRAGMA incremental_vacuum` after retention
/// deletes chats), so the file does not grow over weeks. A new file is created that way; a file
/// from before is converted once (a `VACUUM`, logged).
fn incremental_vacuum(conn: &Connection) -> rusqlite::Result<()> {
    const INCREMENTAL: i64 = 2;
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")?;
    if tables > 0 {
        log::info!("converting the database to incremental auto-vacuum (once; a VACUUM)");
        conn.execute_batch("VACUUM")?;
    }
    Ok(())
}

fn open_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI
}

/// A crash can leave `chat.db-wal` and `chat.db-shm` behind. If the user deleted `chat.db` to
/// reset the emulator, SQLite would replay that stale WAL into the new, empty database; so when
/// the database file is missing, its leftovers go too.
fn remove_stale_wal(path: &Path) -> Result<(), OpenError> {
    if path.exists() {
        return Ok(());
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut leftover = path.as_os_str().to_owned();
        leftover.push(suffix);
        let leftover = PathBuf::from(leftover);
        if leftover.exists() {
            log::warn!(
                "{} has no database beside it (deleted to reset?); removing it",
                leftover.display()
            );
            std::fs::remove_file(&leftover).map_err(|e| {
                OpenError(format!(
                    "cannot remove stale {}: {e}; delete it by hand",
                    leftover.display()
                ))
            })?;
        }
    }
    Ok(())
}

fn open_error(path: &Path, e: rusqlite::Error) -> OpenError {
    let shown = path.display();
    let code = e.sqlite_error_code();
    OpenError(match code {
        Some(ErrorCode::NotADatabase) => format!(
            "cannot use database {shown}: the file is not a SQLite database or is corrupt; \
             move it away or delete it to start over"
        ),
        Some(ErrorCode::CannotOpen) | Some(ErrorCode::ReadOnly) | Some(ErrorCode::PermissionDenied) => {
            format!("cannot open database {shown} for writing ({e}); check the path and its permissions, or pick another with --db")
        }
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => format!(
            "cannot use database {shown}: another process holds it locked; is another emulator running on it?"
        ),
        _ => format!("cannot use database {shown}: {e}"),
    })
}

enum MigrateError {
    Newer(i64),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sql(e)
    }
}

/// Applies the migrations not yet applied; returns the schema version found.
fn migrate(conn: &mut Connection) -> Result<i64, MigrateError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(MigrateError::Newer(version));
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
         );",
    )?;
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let v = i as i64 + 1;
        log::info!("applying migration {name} (schema version {v})");
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
            rusqlite::params![v, name],
        )?;
        tx.pragma_update(None, "user_version", v)?;
    }
    tx.commit()?;
    Ok(version)
}

/// The clock as stored.
fn read_clock(conn: &Connection) -> rusqlite::Result<ClockState> {
    conn.query_row("SELECT offset_ms, frozen_at FROM clock WHERE id = 1", [], |r| {
        Ok(ClockState { offset_ms: r.get(0)?, frozen_at: r.get(1)? })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS.iter().map(|(n, _)| format!("{n}.sql")).collect();
        assert_eq!(files, listed);
    }
}
