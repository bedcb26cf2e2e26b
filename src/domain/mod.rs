//! The chat's vocabulary: ids, states and their capabilities, operations, participant and message
//! types, readers, and the kinds of pending work. Pure code, no I/O: each type parses its input
//! once, so the layers above never handle unchecked strings.

mod chat_id;
mod message;
mod state;
mod work;

pub use chat_id::{ChatId, UnknownChat};
pub use message::{MessageType, ParticipantType, Reader};
pub use state::{ChatState, Operation};
pub use work::JobKind;

/// Who drives the agent side: the built-in bot, or a person through the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentMode {
    Bot,
    Manual,
}

impl AgentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentMode::Bot => "bot",
            AgentMode::Manual => "manual",
        }
    }
}
