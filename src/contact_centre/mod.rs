//! The simulated contact centre: what happens on its side of a chat. Its settings and its one
//! source of randomness (with `--seed`, the chat ids and every delay come from one seeded
//! generator, so a run can be reproduced), the hooks the chat operations call (a chat was
//! requested, the customer wrote, an agent joined or left), and the pending work it runs when it
//! falls due (`work.rs`). The bot's rules are in `bot.rs`.

pub mod bot;
mod runner;
pub mod scenario;
pub mod scenarios;
mod work;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use scenario::Scenario;
pub use scenarios::Scenarios;
pub use work::run_job;

use crate::config::{Config, DelayRange};
use crate::domain::{AgentMode, ChatId, ChatState, JobKind, MessageType, ParticipantType};
use crate::store::{ChatTx, Result, StoreError};

pub struct ContactCentre {
    pub agent_mode: AgentMode,
    pub agent_nickname: String,
    pub agent_join_delay: DelayRange,
    pub reply_delay: DelayRange,
    pub bot_typing: bool,
    pub system_message_interval: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    /// Every scenario a chat can run.
    pub scenarios: Arc<Scenarios>,
    /// The scenario of a chat that names none.
    pub default_scenario: String,
    rng: Mutex<StdRng>,
}

impl Default for ContactCentre {
    fn default() -> Self {
        ContactCentre::new(&Config::default(), Arc::new(Scenarios::built_in()))
    }
}

impl ContactCentre {
    /// The contact centre `c` describes, with the scenarios loaded from `--scenarios-dir`.
    pub fn new(c: &Config, scenarios: Arc<Scenarios>) -> ContactCentre {
        let rng = match c.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        ContactCentre {
            agent_mode: c.agent_mode,
            agent_nickname: c.agent_nickname.clone(),
            agent_join_delay: c.agent_join_delay,
            reply_delay: c.reply_delay,
            bot_typing: c.bot_typing,
            system_message_interval: c.system_message_interval,
            idle_timeout: c.idle_timeout,
            scenarios,
            default_scenario: c.default_scenario().to_string(),
            rng: Mutex::new(rng),
        }
    }

    /// The scenario of a chat that names none.
    pub fn default_scenario(&self) -> Arc<Scenario> {
        self.scenarios
            .get(&self.default_scenario)
            .or_else(|| self.scenarios.get("bot"))
            .expect("the built-in scenarios are always there")
    }

    /// Whether chats from before scenarios (which have no scenario) get the bot.
    pub fn is_bot(&self) -> bool {
        self.agent_mode == AgentMode::Bot
    }

    /// Whether the bot's rules answer in `chat`.
    pub fn bot_active(&self, chat: &ChatTx) -> bool {
        chat.bot().unwrap_or_else(|| self.is_bot())
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut rng)
    }

    fn pick_ms(&self, range: DelayRange) -> i64 {
        let (min, max) = (ms(range.min), ms(range.max));
        self.with_rng(|r| r.random_range(min..=max))
    }

    /// Milliseconds until the bot agent joins a new chat.
    pub fn join_delay_ms(&self) -> i64 {
        self.pick_ms(self.agent_join_delay)
    }

    /// Milliseconds until the bot answers a customer message.
    pub fn reply_delay_ms(&self) -> i64 {
        self.pick_ms(self.reply_delay)
    }

    /// A random number below `n`.
    pub fn pick(&self, n: usize) -> usize {
        self.with_rng(|r| r.random_range(0..n.max(1)))
    }

    /// A new chat id, drawn from the (possibly seeded) generator.
    pub fn new_chat_id(&self) -> ChatId {
        ChatId::from_random_bytes(self.with_rng(|r| r.random()))
    }

    // ---- what the contact centre does when something happens in a chat ----

    /// A chat was requested: schedule the system participant's messages and the inactivity
    /// check, and start its scenario (the `bot` scenario schedules the agent's join).
    pub fn chat_requested(&self, chat: &ChatTx, scenario: &Scenario) -> Result<()> {
        let now = chat.now();
        if let Some(every) = self.system_message_interval {
            chat.schedule(JobKind::SystemMessage, Some(now + ms(every)), None)?;
        }
        if let Some(timeout) = self.idle_timeout {
            chat.schedule(JobKind::IdleTimeout, Some(now + ms(timeout)), None)?;
        }
        self.start_scenario(chat, scenario)
    }

    /// The customer sent Text `index`: when the bot answers in this chat it gets one reply, once
    /// an agent is there; a scenario waiting for it goes on.
    pub fn customer_wrote(&self, chat: &ChatTx, index: i64, text: &str) -> Result<()> {
        if self.bot_active(chat) {
            if chat.present_agent()?.is_some() {
                bot::schedule_reply(self, chat, index)?;
            } else {
                chat.schedule(JobKind::BotReply, None, Some(index))?;
            }
        }
        self.scenario_heard(chat, text)
    }

    /// An agent joins: `ParticipantJoined`, state `Chatting`, and in bot mode the replies that
    /// waited for an agent get scheduled.
    pub fn agent_joins(&self, chat: &ChatTx, nickname: &str) -> Result<()> {
        if chat.present_agent()?.is_some() {
            return Err(StoreError::NotAllowed(
                "an agent is already in this chat; leave first to join as another".into(),
            ));
        }
        let agent = chat.add_participant(nickname, ParticipantType::Agent)?;
        chat.append(MessageType::ParticipantJoined, agent, None, None)?;
        chat.set_state(ChatState::Chatting)?;
        if self.bot_active(chat) {
            bot::schedule_waiting_replies(self, chat)?;
        }
        Ok(())
    }

    /// The agent leaves: state back to `WaitingForAgent`. Its pending typing goes with it; the
    /// replies it still owes wait for the next agent (the bot does not rejoin by itself).
    pub fn agent_leaves(&self, chat: &ChatTx, agent: i64) -> Result<()> {
        chat.append(MessageType::ParticipantLeft, agent, None, None)?;
        chat.mark_left(agent)?;
        chat.set_state(ChatState::WaitingForAgent)?;
        chat.cancel_jobs(&[JobKind::BotTyping, JobKind::AgentJoin])?;
        chat.unschedule(JobKind::BotReply)
    }
}

/// Milliseconds of a duration, the unit of every time in the database and the API.
pub fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_reproduces_ids_and_delays() {
        let config = Config { seed: Some(7), ..Config::default() };
        let scenarios = Arc::new(Scenarios::built_in());
        let (a, b) = (
            ContactCentre::new(&config, scenarios.clone()),
            ContactCentre::new(&config, scenarios),
        );
        assert_eq!(a.new_chat_id(), b.new_chat_id());
        assert_eq!(a.join_delay_ms(), b.join_delay_ms());
    }

    #[test]
    fn delays_stay_in_their_range() {
        let centre = ContactCentre::default();
        for _ in 0..1000 {
            let d = centre.join_delay_ms();
            assert!((1000..=4000).contains(&d), "{d}");
        }
    }
}
