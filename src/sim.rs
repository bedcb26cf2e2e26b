//! The simulated contact centre's settings and its one source of randomness. With `--seed`, the
//! chat ids and every delay come from one seeded generator, so a run can be reproduced.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{Config, DelayRange};
use crate::domain::AgentMode;

pub struct Sim {
    pub agent_mode: AgentMode,
    pub agent_nickname: String,
    pub agent_join_delay: DelayRange,
    pub reply_delay: DelayRange,
    pub bot_typing: bool,
    pub system_message_interval: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    rng: Mutex<StdRng>,
}

impl Sim {
    pub fn from_config(c: &Config) -> Sim {
        let rng = match c.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Sim {
            agent_mode: c.agent_mode,
            agent_nickname: c.agent_nickname.clone(),
            agent_join_delay: c.agent_join_delay,
            reply_delay: c.reply_delay,
            bot_typing: c.bot_typing,
            system_message_interval: c.system_message_interval,
            idle_timeout: c.idle_timeout,
            rng: Mutex::new(rng),
        }
    }

    pub fn is_bot(&self) -> bool {
        self.agent_mode == AgentMode::Bot
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut rng)
    }

    fn pick_ms(&self, range: DelayRange) -> i64 {
        let (min, max) = (range.min.as_millis() as i64, range.max.as_millis() as i64);
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

    pub fn pick(&self, n: usize) -> usize {
        self.with_rng(|r| r.random_range(0..n.max(1)))
    }

    /// A new chat id: a version 4 UUID drawn from the (possibly seeded) generator.
    pub fn new_chat_id(&self) -> String {
        let bytes: [u8; 16] = self.with_rng(|r| r.random());
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }
}

pub fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_reproduces_ids_and_delays() {
        let config = Config { seed: Some(7), ..Config::default() };
        let (a, b) = (Sim::from_config(&config), Sim::from_config(&config));
        assert_eq!(a.new_chat_id(), b.new_chat_id());
        assert_eq!(a.join_delay_ms(), b.join_delay_ms());
        let id = a.new_chat_id();
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    }

    #[test]
    fn delays_stay_in_their_range() {
        let sim = Sim::from_config(&Config::default());
        for _ in 0..1000 {
            let d = sim.join_delay_ms();
            assert!((1000..=4000).contains(&d), "{d}");
        }
    }
}
