//! What was written, as it is written: the writer publishes each committed message, state change
//! and new chat here, and long-polling requests and Server-Sent Event streams subscribe. Nothing
//! here can slow a writer: publishing never waits (bounded broadcast channels; a subscriber that
//! falls too far behind loses its place and is told so), and when nobody watches a chat, its
//! writes cost one check of a counter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::domain::{ChatId, ChatState};
use crate::store::{ChatSummary, MessageView};

/// Events kept for a subscriber of one chat that has not read them yet; past it, it lags.
const CHAT_BUFFER: usize = 1024;
/// The same for subscribers of every chat.
const ALL_BUFFER: usize = 8192;

/// Something the writer committed.
#[derive(Debug, Clone)]
pub enum Event {
    Message { chat: ChatId, message: MessageView },
    State { chat: ChatId, state: ChatState },
    Chat(ChatSummary),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageData<'a> {
    #[serde(flatten)]
    message: &'a MessageView,
    chat_id: &'a ChatId,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateData<'a> {
    chat_id: &'a ChatId,
    state: ChatState,
}

impl Event {
    pub fn chat(&self) -> &ChatId {
        match self {
            Event::Message { chat, .. } | Event::State { chat, .. } => chat,
            Event::Chat(summary) => &summary.id,
        }
    }

    /// The message index, for messages.
    pub fn index(&self) -> Option<i64> {
        match self {
            Event::Message { message, .. } => Some(message.index),
            _ => None,
        }
    }

    /// The event in the Server-Sent Events format: `event:`, `id:` for messages, `data:` (one
    /// line of JSON), and a blank line.
    pub fn to_sse(&self) -> String {
        let (name, id, data) = match self {
            Event::Message { chat, message } => (
                "message",
                Some(format!("{chat}:{}", message.index)),
                serde_json::to_string(&MessageData { message, chat_id: chat }),
            ),
            Event::State { chat, state } => {
                ("state", None, serde_json::to_string(&StateData { chat_id: chat, state: *state }))
            }
            Event::Chat(summary) => ("chat", None, serde_json::to_string(summary)),
        };
        let data = data.unwrap_or_else(|_| "{}".into());
        match id {
            Some(id) => format!("event: {name}\nid: {id}\ndata: {data}\n\n"),
            None => format!("event: {name}\ndata: {data}\n\n"),
        }
    }
}

/// Where events go. Cheap to share; one per store.
pub struct Hub {
    /// Chat rowid -> its subscribers.
    chats: RwLock<HashMap<i64, broadcast::Sender<Arc<Event>>>>,
    /// How many chats have subscribers (so that a write to an unwatched chat takes no lock).
    watched: AtomicUsize,
    all: broadcast::Sender<Arc<Event>>,
    closed: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            chats: RwLock::default(),
            watched: AtomicUsize::new(0),
            all: broadcast::channel(ALL_BUFFER).0,
            closed: watch::channel(false).0,
        }
    }
}

/// A subscription to one chat's events; leaving it cleans up after itself.
pub struct ChatEvents {
    hub: Arc<Hub>,
    rowid: i64,
    rx: Option<broadcast::Receiver<Arc<Event>>>,
}

impl ChatEvents {
    /// The next event; `Err(Lagged)` when the subscriber fell more than the buffer behind.
    pub async fn recv(&mut self) -> Result<Arc<Event>, broadcast::error::RecvError> {
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => Err(broadcast::error::RecvError::Closed),
        }
    }
}

impl Drop for ChatEvents {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut chats = self.hub.chats.write().unwrap_or_else(|p| p.into_inner());
        if chats.get(&self.rowid).is_some_and(|tx| tx.receiver_count() == 0) {
            chats.remove(&self.rowid);
            self.hub.watched.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Hub {
    /// Whether a write to chat `rowid` should be published (someone watches it or every chat).
    pub fn wants(&self, rowid: i64) -> bool {
        if self.all.receiver_count() > 0 {
            return true;
        }
        self.watched.load(Ordering::Relaxed) > 0
            && self.chats.read().unwrap_or_else(|p| p.into_inner()).contains_key(&rowid)
    }

    /// Whether new chats should be published.
    pub fn wants_all(&self) -> bool {
        self.all.receiver_count() > 0
    }

    /// Subscribes to the events of chat `rowid`, from now on.
    pub fn subscribe_chat(self: &Arc<Self>, rowid: i64) -> ChatEvents {
        let mut chats = self.chats.write().unwrap_or_else(|p| p.into_inner());
        let rx = match chats.get(&rowid) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = broadcast::channel(CHAT_BUFFER);
                chats.insert(rowid, tx);
                self.watched.fetch_add(1, Ordering::SeqCst);
                rx
            }
        };
        ChatEvents { hub: self.clone(), rowid, rx: Some(rx) }
    }

    /// Subscribes to the events of every chat, from now on.
    pub fn subscribe_all(&self) -> broadcast::Receiver<Arc<Event>> {
        self.all.subscribe()
    }

    /// Publishes what a commit wrote, in order. Never waits.
    pub(crate) fn publish(&self, events: Vec<(i64, Event)>) {
        if events.is_empty() {
            return;
        }
        let chats = self.chats.read().unwrap_or_else(|p| p.into_inner());
        for (rowid, event) in events {
            let event = Arc::new(event);
            if let Some(tx) = chats.get(&rowid) {
                let _ = tx.send(event.clone());
            }
            let _ = self.all.send(event);
        }
    }

    /// The chats at `rowids` were deleted: their streams end.
    pub(crate) fn forget(&self, rowids: &[i64]) {
        if self.watched.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut chats = self.chats.write().unwrap_or_else(|p| p.into_inner());
        for rowid in rowids {
            if chats.remove(rowid).is_some() {
                self.watched.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Every chat was deleted: every chat's stream ends.
    pub(crate) fn forget_all(&self) {
        let mut chats = self.chats.write().unwrap_or_else(|p| p.into_inner());
        self.watched.fetch_sub(chats.len(), Ordering::SeqCst);
        chats.clear();
    }

    /// Ends every stream (the server is stopping).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Becomes true when the server stops.
    pub fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }
}
