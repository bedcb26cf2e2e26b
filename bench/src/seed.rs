//! Seeding databases: the only place that writes the emulator's tables row by row.
//!
//! [`seed`] creates the schema with the emulator's own `Store::open`, then bulk-inserts rows
//! with the schema's INSERT statements (a copy of the columns the store writes), in big
//! transactions on one connection. It is the one function to switch when the store offers a
//! way to write many chats at once.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use gws_emulator::store::{now_ms, Store, MIGRATIONS};

use crate::sizes::Sizes;

/// Far-future due time (2100-01-01) for seeded jobs that must not run during a case.
const FAR_FUTURE: i64 = 4_102_444_800_000;
/// Bumped when the seeded layout changes, so cached databases are rebuilt.
const SEED_VERSION: u32 = 1;

/// The databases the cases start from.
#[derive(Clone, Copy, Debug)]
pub enum DbKind {
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
    /// The name of its cached file: it changes with the sizes, the schema and the seeding.
    pub fn file_name(self, s: &Sizes) -> String {
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
pub fn chat_uuid(r: usize) -> String {
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

/// Creates the database of `kind` at `path` (which must not exist): the schema with
/// `Store::open`, then the rows. Returns the number of messages. The write-ahead log is
/// checkpointed, so the file alone is the database.
pub fn seed(path: &Path, kind: DbKind, sizes: &Sizes) -> Result<usize, String> {
    drop(Store::open(path).map_err(|e| e.0)?);
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    let messages = seed_rows(&conn, kind, sizes).map_err(|e| format!("SQLite: {e}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_chat_ids_are_distinct_uuid_v4() {
        let a = chat_uuid(1);
        assert_eq!(uuid::Uuid::parse_str(&a).unwrap().get_version_num(), 4);
        assert_ne!(a, chat_uuid(2));
        assert_eq!(a, chat_uuid(1));
    }
}
