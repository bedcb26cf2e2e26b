//! How big each seeded database and each load is: the sizes, or tiny ones with --quick.

use std::time::Duration;

pub struct Sizes {
    /// Chats of the small database (5 messages each) of the baseline cases and the mix.
    pub small_chats: usize,
    /// The big database: one chat of `hot_msgs` messages plus `big_chats` of `big_msgs`.
    pub big_chats: usize,
    pub big_msgs: usize,
    pub hot_msgs: usize,
    /// Open chats of the scheduler-tick database.
    pub tick_chats: usize,
    /// Chats whose agent joins fall due over `late_spread` (scheduler-lateness).
    pub late_chats: usize,
    pub late_spread: Duration,
    pub mix_widgets: usize,
    pub mix_senders: usize,
    pub mix_connections: usize,
    pub startup_runs: usize,
    pub idle_wait: Duration,
    /// Chats taken through a whole life on a frozen clock (lifecycle).
    pub lifecycle_chats: usize,
    /// Messages whose wait and event latency is measured one by one (wait-latency).
    pub wait_rounds: usize,
    /// Open event streams while send-many runs (watchers).
    pub watchers: usize,
    /// Ended chats that retention deletes under load (retention).
    pub ended_chats: usize,
    /// Chats waiting in a waitFor step of their scenario (scenario-tick).
    pub scenario_chats: usize,
}

impl Sizes {
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                small_chats: 100,
                big_chats: 100,
                big_msgs: 9,
                hot_msgs: 100,
                tick_chats: 1_000,
                late_chats: 200,
                late_spread: Duration::from_millis(500),
                mix_widgets: 100,
                mix_senders: 4,
                mix_connections: 4,
                startup_runs: 3,
                idle_wait: Duration::from_millis(300),
                lifecycle_chats: 100,
                wait_rounds: 30,
                watchers: 50,
                ended_chats: 2_000,
                scenario_chats: 100,
            }
        } else {
            Sizes {
                small_chats: 10_000,
                big_chats: 10_000,
                big_msgs: 90,
                hot_msgs: 100_000,
                tick_chats: 100_000,
                late_chats: 10_000,
                late_spread: Duration::from_secs(3),
                mix_widgets: 1_000,
                mix_senders: 20,
                mix_connections: 16,
                startup_runs: 5,
                idle_wait: Duration::from_secs(1),
                lifecycle_chats: 1_000,
                wait_rounds: 300,
                watchers: 1_000,
                ended_chats: 100_000,
                scenario_chats: 1_000,
            }
        }
    }

    /// Messages in the big database.
    pub fn big_total(&self) -> usize {
        self.hot_msgs + self.big_chats * self.big_msgs
    }
}
