//! The kinds of pending work the simulated contact centre keeps in the `jobs` table.

/// What a row of `jobs` will do when it falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// The bot agent joins the chat.
    AgentJoin,
    /// The `system` participant posts one of its texts, then reschedules itself.
    SystemMessage,
    /// The bot shows it is typing an answer.
    BotTyping,
    /// The bot answers a customer message (`reply_to`); no due time while no agent is there.
    BotReply,
    /// The chat is closed if the customer did nothing for the idle timeout.
    IdleTimeout,
    /// A scenario step whose delay has passed runs (`step`).
    ScenarioStep,
    /// A scenario's typing step ends: TypingStopped, then the steps after it.
    ScenarioTyped,
    /// A scenario waits for the customer's message (`step`); due at its timeout, if any.
    ScenarioWait,
}

impl JobKind {
    pub const ALL: [JobKind; 8] = [
        JobKind::AgentJoin,
        JobKind::SystemMessage,
        JobKind::BotTyping,
        JobKind::BotReply,
        JobKind::IdleTimeout,
        JobKind::ScenarioStep,
        JobKind::ScenarioTyped,
        JobKind::ScenarioWait,
    ];

    /// The work a scenario schedules (cancelled when the chat switches scenario).
    pub const SCENARIO: [JobKind; 6] = [
        JobKind::ScenarioStep,
        JobKind::ScenarioTyped,
        JobKind::ScenarioWait,
        JobKind::AgentJoin,
        JobKind::BotTyping,
        JobKind::BotReply,
    ];

    /// The name stored in `jobs.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::AgentJoin => "agent_join",
            JobKind::SystemMessage => "system_message",
            JobKind::BotTyping => "bot_typing",
            JobKind::BotReply => "bot_reply",
            JobKind::IdleTimeout => "idle_timeout",
            JobKind::ScenarioStep => "scenario_step",
            JobKind::ScenarioTyped => "scenario_typed",
            JobKind::ScenarioWait => "scenario_wait",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Work that reschedules itself after it ran (at most once per clock advance).
    pub fn is_recurring(self) -> bool {
        self == JobKind::SystemMessage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_schema() {
        let schema = include_str!("../../migrations/0002_clock_scenarios_journal.sql");
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
            assert!(
                schema.contains(&format!("'{}'", k.as_str())),
                "{} not in the schema",
                k.as_str()
            );
        }
    }
}
