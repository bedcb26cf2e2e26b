//! SQLite persistence: the pool, per-connection pragmas, and the migrations of `migrations/`.
//!
//! Every write goes through one writer thread (`writer.rs`) that commits the queued writes together
//! in one transaction: message indexes and read cursors are assigned race-free, writers never
//! contend for SQLite's lock, and an operation is acknowledged only after its transaction committed
//! to the WAL (durable against a process crash). Reads use a pool of connections.

mod cache;
mod chats;
mod jobs;
mod writer;

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use cache::ReadCache;
pub use chats::{
    AgentAction, ChatDetail, ChatSummary, ChatView, CustomerAction, Health, MessageView, NewChat,
    ParticipantDetail, ParticipantView, Reader,
};
use writer::Writer;

use crate::domain::State;

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

/// The schema migrations, in order. Version N is `MIGRATIONS[N - 1]`; `PRAGMA user_version`
/// records how many were applied, and `schema_migrations` lists them for people.
pub const MIGRATIONS: &[(&str, &str)] =
    &[("0001_init", include_str!("../../migrations/0001_init.sql"))];

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// How long a connection waits for another writer before giving up with `database is locked`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_SIZE: u32 = 16;

/// The database. Cheap to clone (one shared inner). If `chat.db` is deleted or replaced while the
/// emulator runs, `reopen_if_gone` starts over on a fresh file; every operation holds a read guard
/// on the pool for its whole duration, so a reopen waits for work in flight and none straddles two
/// files.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// None only while a reopen failed; operations then fail until the next try succeeds.
    pool: RwLock<Option<Pool>>,
    /// The (device, inode) of the file the pool has open.
    file: Mutex<Option<(u64, u64)>>,
    /// The one thread that writes (see `writer.rs`).
    writer: Writer,
    /// What the hottest reads need, kept in step by the writer (see `cache.rs`).
    cache: Arc<ReadCache>,
}

/// A pooled connection that keeps the pool's read guard until it is dropped.
pub(crate) struct Conn<'a> {
    // Declared first: the connection goes back to the pool before the guard is released.
    conn: r2d2::PooledConnection<SqliteConnectionManager>,
    _guard: RwLockReadGuard<'a, Option<Pool>>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Why the emulator could not start on its database; each is one line naming the file.
#[derive(Debug)]
pub struct OpenError(pub String);

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OpenError {}

/// What went wrong in a store operation; the API layer maps each to a GWS error.
#[derive(Debug)]
pub enum StoreError {
    ChatNotFound,
    /// The database could not be reopened after it was deleted; retried every second.
    Unavailable,
    /// The operation is not in the chat's capabilities (or the agent action not possible now).
    NotAllowed(String),
    Db(rusqlite::Error),
    Pool(r2d2::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::ChatNotFound => f.write_str("chat not found"),
            StoreError::Unavailable => f.write_str("the database is unavailable"),
            StoreError::NotAllowed(why) => f.write_str(why),
            StoreError::Db(e) => write!(f, "database error: {e}"),
            StoreError::Pool(e) => write!(f, "database pool error: {e}"),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e)
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Pool(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // NORMAL in WAL mode: a commit is in the WAL before it is acknowledged, so it survives a crash
    // of the process; a power loss may lose the last commits (see the README).
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> std::result::Result<Store, OpenError> {
        let pool = open_pool(path)?;
        let cache = Arc::new(ReadCache::default());
        let writer = Writer::start(open_writer(path)?, cache.clone());
        let file = file_id(path);
        let store = Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                pool: RwLock::new(Some(pool)),
                file: Mutex::new(file),
                writer,
                cache,
            }),
        };
        start_checkpointer(Arc::downgrade(&store.inner));
        Ok(store)
    }

    /// Runs `f` on the writer's connection, inside a transaction shared with the other writes
    /// queued meanwhile; answers once that transaction committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.submit(f).await.unwrap_or(Err(StoreError::Unavailable))
    }

    /// Queues `f` for the writer; the receiver answers after the commit.
    pub(crate) fn submit<T, F>(&self, f: F) -> tokio::sync::oneshot::Receiver<Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.inner.writer.submit(f)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn cache(&self) -> &ReadCache {
        &self.inner.cache
    }

    pub(crate) fn conn(&self) -> Result<Conn<'_>> {
        let guard = self.inner.pool.read().unwrap_or_else(|p| p.into_inner());
        let pool = guard.as_ref().ok_or(StoreError::Unavailable)?;
        let conn = pool.get()?;
        Ok(Conn { conn, _guard: guard })
    }

    /// Starts over on a fresh database when the file was deleted (or replaced) under us, instead
    /// of writing into a file nobody can see. Returns whether it did. Blocks: call it off the
    /// async threads.
    pub fn reopen_if_gone(&self) -> std::result::Result<bool, OpenError> {
        let current = file_id(&self.inner.path);
        let opened = *self.inner.file.lock().unwrap_or_else(|p| p.into_inner());
        if current.is_some() && current == opened {
            return Ok(false);
        }
        // The writer does it between two transactions, so no write straddles two files.
        let inner = self.inner.clone();
        let (done, wait) = std::sync::mpsc::channel();
        self.inner.writer.exclusive(move |writer_conn| {
            // Waits for every read in flight; none starts until the new pool is in.
            let mut slot = inner.pool.write().unwrap_or_else(|p| p.into_inner());
            // Close every connection to the old file first, so its WAL is checkpointed and
            // removed and can never be paired with the new file.
            *writer_conn = None;
            drop(slot.take());
            if opened.is_some() {
                log::warn!(
                    "{} was deleted or replaced while running; starting over on a fresh database",
                    inner.path.display()
                );
            }
            let result =
                open_pool(&inner.path).and_then(|pool| Ok((pool, open_writer(&inner.path)?)));
            let _ = done.send(result.map(|(pool, conn)| {
                *slot = Some(pool);
                *writer_conn = Some(conn);
                *inner.file.lock().unwrap_or_else(|p| p.into_inner()) = file_id(&inner.path);
                true
            }));
        });
        wait.recv().unwrap_or(Ok(false))
    }
}

/// The writer's connection. It does not checkpoint on commit (`start_checkpointer` does, off
/// the write path).
fn open_writer(path: &Path) -> std::result::Result<Connection, OpenError> {
    let conn = Connection::open_with_flags(path, open_flags()).map_err(|e| open_error(path, e))?;
    configure(&conn).map_err(|e| open_error(path, e))?;
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0;").map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// Copies the WAL back into the database every `CHECKPOINT_EVERY`, from a reader connection and
/// without blocking the writer (PASSIVE), so commits never pay for a checkpoint. Ends with the
/// store.
fn start_checkpointer(inner: std::sync::Weak<Inner>) {
    let _ = std::thread::Builder::new().name("gws-checkpoint".into()).spawn(move || loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        let Some(inner) = inner.upgrade() else { return };
        let store = Store { inner };
        let checkpoint = store
            .conn()
            .and_then(|conn| Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?));
        if let Err(e) = checkpoint {
            log::debug!("checkpoint: {e}");
        }
    });
}

/// The (device, inode) of a file, to notice when it is deleted or replaced.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Opens the database file, applies the migrations, and builds the connection pool.
fn open_pool(path: &Path) -> std::result::Result<Pool, OpenError> {
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
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError(format!(
            "cannot use database {shown}: SQLite refused WAL mode (got {mode}); put it on a local disk"
        )));
    }
    migrate(&mut conn).map_err(|e| match e {
        MigrateError::Newer(found) => OpenError(format!(
            "cannot use database {shown}: it was written by a newer gws-emulator (schema version {found}, \
             this one knows up to {}); upgrade the emulator, or delete the file to start over",
            MIGRATIONS.len()
        )),
        MigrateError::Sql(e) => open_error(path, e),
    })?;
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
    Ok(pool)
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
fn remove_stale_wal(path: &Path) -> std::result::Result<(), OpenError> {
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

fn migrate(conn: &mut Connection) -> std::result::Result<(), MigrateError> {
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
    Ok(())
}

/// Milliseconds since the Unix epoch, the unit of every time in the database and the API.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn state_from_db(s: &str) -> State {
    // The CHECK constraint keeps other values out of the table.
    State::parse(s).unwrap_or(State::Idle)
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
