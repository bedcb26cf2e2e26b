//! Database files: the cache of seeded databases, and the few reads and removals the cases do.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::seed::{self, DbKind};
use crate::sizes::Sizes;

/// The cached database of `kind` in `cache`, seeded first if it is not there yet.
pub fn cached(cache: &Path, kind: DbKind, sizes: &Sizes) -> Result<PathBuf, String> {
    let name = kind.file_name(sizes);
    let path = cache.join(&name);
    if path.exists() {
        println!("   database: cached {}", path.display());
        return Ok(path);
    }
    // Leftovers of a seeding that was interrupted (its process is gone) are removed.
    let prefix = format!("{name}.tmp-");
    for entry in fs::read_dir(cache).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else { continue };
        let pid = rest.split('-').next().unwrap_or_default();
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
    let tmp = cache.join(format!("{prefix}{}", std::process::id()));
    remove(&tmp);
    let t = Instant::now();
    let messages = seed::seed(&tmp, kind, sizes).map_err(|e| {
        remove(&tmp);
        format!("seeding {name} failed: {e}")
    })?;
    fs::rename(&tmp, &path)
        .map_err(|e| format!("cannot move the seeded database into {}: {e}", path.display()))?;
    // seed() checked that the write-ahead log is empty; a connection of the pool that
    // Store::open started may have kept SQLite from deleting it and its index.
    remove(&tmp);
    println!(
        "   database: seeded {} ({messages} messages) in {:.1} s",
        path.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// Removes a database and its companion files.
pub fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = fs::remove_file(PathBuf::from(p));
    }
}

/// A plain connection with the emulator's busy timeout, for preparing and reading a database.
pub fn open_plain(path: &Path) -> Result<Connection, String> {
    let conn =
        Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    Ok(conn)
}

/// The chats of a seeded database, in rowid order: their API ids and newest message index.
pub struct Chats {
    pub ids: Vec<String>,
    pub last: Vec<i64>,
}

/// The chats of the database at `path` (at least one).
pub fn read_chats(path: &Path) -> Result<Chats, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::chat_uuid;
    use gws_emulator::domain::{ChatId, Reader};
    use gws_emulator::store::{Store, StoreOptions};

    #[test]
    fn seeded_databases_are_cached_and_read_by_the_emulator() {
        let dir = std::env::temp_dir().join(format!("gws-bench-seed-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let sizes = Sizes::new(true);
        let path = cached(&dir, DbKind::Big, &sizes).unwrap();
        assert_eq!(cached(&dir, DbKind::Big, &sizes).unwrap(), path, "the second time, cached");
        let chats = read_chats(&path).unwrap();
        assert_eq!(chats.ids.len(), sizes.big_chats + 1);
        assert_eq!(chats.ids[0], chat_uuid(1));
        assert_eq!(chats.last[0], sizes.hot_msgs as i64);
        assert!(chats.last[1..].iter().all(|&l| l == sizes.big_msgs as i64));
        // The emulator's own store reads what was seeded: nothing unread, every message there.
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let (hot, other) =
            (ChatId::parse(&chats.ids[0]).unwrap(), ChatId::parse(&chats.ids[1]).unwrap());
        actix_web::rt::System::new().block_on(async {
            let unread = store.poll(&other, Reader::Customer, None).await.unwrap();
            assert!(unread.is_empty(), "everything was read");
            let all = store.transcript_from(&hot, Reader::Customer, 1, None).await.unwrap();
            assert_eq!(all.len(), sizes.hot_msgs);
        });
        drop(store);
        fs::remove_dir_all(&dir).unwrap();
    }
}
