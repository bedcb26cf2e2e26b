//! Seeding databases, through the emulator's own writes: `Store::transact` runs a closure as one
//! writer operation, and the closure creates chats, participants, messages, cursors and pending
//! work with the same `WriteTx`/`ChatTx` calls as the API does. No row is written by hand here.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gws_emulator::contact_centre::Scenarios;
use gws_emulator::domain::{ChatId, ChatState, JobKind, MessageType, ParticipantType, Reader};
use gws_emulator::store::{NewChat, Store, StoreOptions, MIGRATIONS};

use crate::sizes::Sizes;

/// Far-future due time (2100-01-01) for seeded jobs that must not run during a case.
const FAR_FUTURE: i64 = 4_102_444_800_000;
/// Bumped when the seeded layout or the seeding code changes, so cached databases are rebuilt.
const SEED_VERSION: u32 = 2;
/// Chats written per writer operation (one transaction each).
const CHATS_PER_TRANSACTION: usize = 2000;

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
    /// `ended_chats` chats the customer completed, then `small_chats` open ones (retention).
    Ended,
}

impl DbKind {
    /// The name of its cached file: it changes with the sizes, the schema and the seeding.
    pub fn file_name(self, s: &Sizes) -> String {
        let what = match self {
            DbKind::Small => format!("small-{}x5", s.small_chats),
            DbKind::Big => format!("big-1x{}-{}x{}", s.hot_msgs, s.big_chats, s.big_msgs),
            DbKind::Tick => format!("tick-{}x5", s.tick_chats),
            DbKind::Late => format!("late-{}", s.late_chats),
            DbKind::Ended => format!("ended-{}-open-{}x5", s.ended_chats, s.small_chats),
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

/// Creates the database of `kind` at `path` (which must not exist) with the emulator's store,
/// and returns the number of messages. The write-ahead log is checkpointed, so the file alone is
/// the database.
pub fn seed(path: &Path, kind: DbKind, sizes: &Sizes) -> Result<usize, String> {
    let scenarios = Arc::new(Scenarios::built_in());
    let manual = scenarios.get("manual").ok_or("no manual scenario")?;
    let store = Store::open(path, StoreOptions::default()).map_err(|e| e.to_string())?;
    let (chats, waiting) = match kind {
        DbKind::Small => (sizes.small_chats, false),
        DbKind::Big => (sizes.big_chats + 1, false),
        DbKind::Tick => (sizes.tick_chats, false),
        DbKind::Late => (sizes.late_chats, true),
        DbKind::Ended => (sizes.ended_chats + sizes.small_chats, false),
    };
    let ended = match kind {
        DbKind::Ended => sizes.ended_chats,
        _ => 0,
    };
    let msgs_of = move |r: usize, s: &Sizes| match kind {
        DbKind::Big if r == 1 => s.hot_msgs,
        DbKind::Big => s.big_msgs,
        DbKind::Late => 3,
        _ => 5,
    };
    let mut total = 0;
    let mut first = 1;
    while first <= chats {
        let last = (first + CHATS_PER_TRANSACTION - 1).min(chats);
        let lens: Vec<usize> =
            (first..=last).map(|r| if r <= ended { 3 } else { msgs_of(r, sizes).max(3) }).collect();
        total += lens.iter().sum::<usize>();
        let manual = manual.clone();
        store
            .transact(move |tx| {
                for (r, m) in (first..=last).zip(lens) {
                    if r <= ended {
                        seed_ended_chat(tx, r, &manual)?;
                    } else {
                        seed_chat(tx, r, m, waiting, &manual)?;
                    }
                }
                Ok(())
            })
            .map_err(|e| format!("seeding chat {first}..{last}: {e}"))?;
        first = last + 1;
    }
    store.checkpoint();
    drop(store);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0) {
        return Err("the write-ahead log was not checkpointed".into());
    }
    Ok(total)
}

/// Chat `r`, which the customer completed: two joins and the customer's leaving; Idle.
fn seed_ended_chat(
    tx: &gws_emulator::store::WriteTx,
    r: usize,
    scenario: &gws_emulator::contact_centre::Scenario,
) -> gws_emulator::store::Result<()> {
    let id = ChatId::parse(&chat_uuid(r)).expect("a UUID v4");
    let new = NewChat {
        nickname: format!("Customer {r}"),
        subject: "Benchmark".into(),
        user_data: None,
        endpoint: None,
    };
    let chat = tx.insert_chat(&id, &new, scenario)?;
    let customer = chat.add_participant(&new.nickname, ParticipantType::Customer)?;
    let system = chat.add_participant("system", ParticipantType::External)?;
    chat.append(MessageType::ParticipantJoined, customer, None, None)?;
    chat.append(MessageType::ParticipantJoined, system, None, None)?;
    chat.append(MessageType::ParticipantLeft, customer, None, None)?;
    chat.mark_left(customer)?;
    chat.end()
}

/// Chat `r` with `m` messages. Open chats: customer, system, agent joined, then questions and
/// answers alternate, everything read. Waiting chats (`waiting`): customer and system joined,
/// one question waiting for the agent, whom the bot sends (far in the future).
fn seed_chat(
    tx: &gws_emulator::store::WriteTx,
    r: usize,
    m: usize,
    waiting: bool,
    scenario: &gws_emulator::contact_centre::Scenario,
) -> gws_emulator::store::Result<()> {
    let id = ChatId::parse(&chat_uuid(r)).expect("a UUID v4");
    let new = NewChat {
        nickname: format!("Customer {r}"),
        subject: "Benchmark".into(),
        user_data: None,
        endpoint: None,
    };
    let chat = tx.insert_chat(&id, &new, scenario)?;
    let customer = chat.add_participant(&new.nickname, ParticipantType::Customer)?;
    let system = chat.add_participant("system", ParticipantType::External)?;
    chat.append(MessageType::ParticipantJoined, customer, None, None)?;
    chat.append(MessageType::ParticipantJoined, system, None, None)?;
    if waiting {
        chat.set_bot(true)?;
        let question = chat.append(MessageType::Text, customer, Some("Are you there?"), None)?;
        chat.schedule(JobKind::AgentJoin, Some(FAR_FUTURE), None)?;
        chat.schedule(JobKind::BotReply, None, Some(question))?;
        chat.move_cursor(Reader::Customer, 3)?;
        chat.move_cursor(Reader::Agent, 0)?;
        return Ok(());
    }
    let agent = chat.add_participant("Kate", ParticipantType::Agent)?;
    chat.append(MessageType::ParticipantJoined, agent, None, None)?;
    chat.set_state(ChatState::Chatting)?;
    for k in 4..=m {
        let (from, text) = if k % 2 == 0 {
            (customer, CUSTOMER_TEXTS[(k / 2) % CUSTOMER_TEXTS.len()])
        } else {
            (agent, AGENT_TEXTS[(k / 2) % AGENT_TEXTS.len()])
        };
        chat.append(MessageType::Text, from, Some(text), None)?;
    }
    for reader in [Reader::Customer, Reader::Agent] {
        chat.move_cursor(reader, m as i64)?;
    }
    chat.schedule(JobKind::SystemMessage, Some(FAR_FUTURE), None)?;
    chat.schedule(JobKind::IdleTimeout, Some(FAR_FUTURE), None)?;
    Ok(())
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
