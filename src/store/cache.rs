//! What the hottest reads need, in memory: for each chat recently read, its last message index,
//! its two read cursors and its GetChat view. The common poll (nothing new) and GetChat are then
//! answered without a trip to the database.
//!
//! Correct by construction: entries are filled only from committed state, by a read; the writer
//! records every chat its transaction opened for writing (a `ChatTx` cannot be had otherwise:
//! see `writes.rs`) and, after the commit and before it acknowledges
//! anything, drops their entries and bumps the generation. A read that started before a commit
//! does not put its (older) result back, because the generation moved. So an entry is never ahead
//! of the database, and a client that got an acknowledgement sees its write on its next read.

use std::collections::HashMap;
use std::sync::RwLock;

use super::writes::Effects;
use super::ChatView;
use crate::domain::ChatId;

/// Entries kept at most; past it the cache starts over (it refills from the database).
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub rowid: i64,
    pub last_index: i64,
    /// Indexed by `Reader as usize`.
    pub cursors: [i64; 2],
    pub view: ChatView,
}

#[derive(Default)]
pub(super) struct ReadCache {
    state: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    generation: u64,
    /// Chat id -> entry.
    chats: HashMap<ChatId, Entry>,
    /// rowid -> chat id, to drop what the writer touched (it knows rowids).
    ids: HashMap<i64, ChatId>,
}

impl ReadCache {
    /// Reads a chat's entry in place (no copy of what is not needed).
    pub fn with<T>(&self, chat_id: &ChatId, f: impl FnOnce(&Entry) -> T) -> Option<T> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).chats.get(chat_id).map(f)
    }

    pub fn generation(&self) -> u64 {
        self.state.read().unwrap_or_else(|p| p.into_inner()).generation
    }

    /// Keeps `entry`, read at `generation`, unless a commit came in between.
    pub fn fill(&self, generation: u64, chat_id: &ChatId, entry: Entry) {
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        if st.generation != generation {
            return;
        }
        if st.chats.len() >= MAX_ENTRIES {
            st.chats.clear();
            st.ids.clear();
        }
        st.ids.insert(entry.rowid, chat_id.clone());
        st.chats.insert(chat_id.clone(), entry);
    }

    /// Called by the writer after a commit: forgets the chats it touched.
    pub fn invalidate(&self, touched: &Effects) {
        if touched.is_empty() {
            return;
        }
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        st.generation += 1;
        if touched.all {
            st.chats.clear();
            st.ids.clear();
            return;
        }
        for rowid in &touched.touched {
            if let Some(id) = st.ids.remove(rowid) {
                st.chats.remove(&id);
            }
        }
    }
}
