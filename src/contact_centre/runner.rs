//! Running a chat's scenario. Steps run in order; a step with a delay, a typing step and a
//! waitFor become pending work in `jobs` (durable, following the clock), and the steps after
//! them run when that work falls due (or, for a waitFor, when the customer writes). A step that
//! needs an agent when none is in the chat (say, typing, pushUrl, notice, leave), or a join while
//! one is, is skipped and logged.

use super::scenario::{self, Action, Scenario, Step};
use super::ContactCentre;
use crate::domain::{ChatState, JobKind, MessageType};
use crate::store::{ChatTx, Result, StoreError};

impl ContactCentre {
    /// Starts `scenario`, which `chat` records already, from its first step.
    pub fn start_scenario(&self, chat: &ChatTx, scenario: &Scenario) -> Result<()> {
        self.run_steps(chat, &scenario.steps, 0, false)
    }

    /// Switches a running chat to `scenario`: its scenario's pending work (and the bot's) is
    /// cancelled, and the new one starts from its first step.
    pub fn switch_scenario(&self, chat: &ChatTx, scenario: &Scenario) -> Result<()> {
        if chat.state() == ChatState::Idle {
            return Err(StoreError::NotAllowed(
                "the chat has ended; a scenario can only be switched in an open chat".into(),
            ));
        }
        if chat.has_work(JobKind::ScenarioTyped)? {
            if let Some(agent) = chat.present_agent()? {
                chat.append(MessageType::TypingStopped, agent, None, None)?;
            }
        }
        chat.cancel_jobs(&JobKind::SCENARIO)?;
        chat.set_scenario(&scenario.name, scenario.stored_steps())?;
        self.start_scenario(chat, scenario)
    }

    /// Scenario work fell due: `ScenarioStep` runs its step, `ScenarioTyped` ends a typing
    /// step, `ScenarioWait` is a waitFor's timeout.
    pub(super) fn scenario_work(&self, chat: &ChatTx, kind: JobKind, step: usize) -> Result<()> {
        let steps = self.steps_of(chat)?;
        let index = step.saturating_sub(1);
        match kind {
            JobKind::ScenarioStep => self.run_steps(chat, &steps, index, true),
            JobKind::ScenarioTyped => {
                if let Some(agent) = chat.present_agent()? {
                    chat.append(MessageType::TypingStopped, agent, None, None)?;
                }
                self.run_steps(chat, &steps, index + 1, false)
            }
            JobKind::ScenarioWait => match steps.get(index).map(|s| &s.action) {
                Some(Action::WaitFor { complete_on_timeout: true, .. }) => chat.close(),
                _ => self.run_steps(chat, &steps, index + 1, false),
            },
            _ => Ok(()),
        }
    }

    /// The customer wrote `text`: if the scenario waits for it (and it matches), the steps
    /// after the waitFor run.
    pub(super) fn scenario_heard(&self, chat: &ChatTx, text: &str) -> Result<()> {
        let Some((job, step)) = chat.scenario_waiting()? else { return Ok(()) };
        let steps = self.steps_of(chat)?;
        let index = step.saturating_sub(1);
        let pattern = match steps.get(index).map(|s| &s.action) {
            Some(Action::WaitFor { pattern, .. }) => pattern.as_deref(),
            _ => None,
        };
        if !scenario::matches(pattern, text) {
            return Ok(());
        }
        chat.cancel_job(job)?;
        self.run_steps(chat, &steps, index + 1, false)
    }

    fn steps_of(&self, chat: &ChatTx) -> Result<Vec<Step>> {
        match chat.scenario_steps()? {
            Some(json) => Scenario::steps_from_stored(&json).map_err(|e| {
                StoreError::NotAllowed(format!("the chat's scenario cannot be read: {e}"))
            }),
            None => Ok(Vec::new()),
        }
    }

    /// Runs `steps` from `index` (0-based) until one has to wait. `delay_passed`: the delay of
    /// the first of them already passed (its work fell due).
    fn run_steps(
        &self,
        chat: &ChatTx,
        steps: &[Step],
        mut index: usize,
        mut delay_passed: bool,
    ) -> Result<()> {
        while let Some(step) = steps.get(index) {
            let number = index + 1;
            let now = chat.now();
            if step.after_ms > 0 && !delay_passed {
                return chat.schedule_step(
                    JobKind::ScenarioStep,
                    Some(now + step.after_ms),
                    number,
                );
            }
            delay_passed = false;
            let agent = chat.present_agent()?;
            let text = |t: &str| -> Result<String> {
                let mut failed = None;
                let out = scenario::substitute(t, |name| {
                    chat.substitution(name).unwrap_or_else(|e| {
                        failed = Some(e);
                        String::new()
                    })
                });
                failed.map_or(Ok(out), Err)
            };
            match (&step.action, agent) {
                (Action::Join(nickname), None) => self.agent_joins(chat, &text(nickname)?)?,
                (Action::Say(t), Some(agent)) => {
                    chat.append(MessageType::Text, agent, Some(&text(t)?), None)?;
                }
                (Action::Typing(ms), Some(agent)) => {
                    chat.append(MessageType::TypingStarted, agent, None, None)?;
                    return chat.schedule_step(JobKind::ScenarioTyped, Some(now + ms), number);
                }
                (Action::PushUrl(url), Some(agent)) => {
                    chat.append(MessageType::PushUrl, agent, None, Some(url))?;
                }
                (Action::Notice(t), Some(agent)) => {
                    chat.append(MessageType::Notice, agent, Some(&text(t)?), None)?;
                }
                (Action::WaitFor { timeout_ms, .. }, _) => {
                    let due = timeout_ms.map(|ms| now + ms);
                    return chat.schedule_step(JobKind::ScenarioWait, due, number);
                }
                (Action::Leave, Some(agent)) => self.agent_leaves(chat, agent)?,
                (Action::Complete, _) => return chat.close(),
                (Action::ThenBot, agent) => {
                    chat.set_bot(true)?;
                    if agent.is_none() {
                        chat.schedule(JobKind::AgentJoin, Some(now + self.join_delay_ms()), None)?;
                    }
                    return Ok(());
                }
                (action, agent) => log::info!(
                    "chat {}: scenario step {number} ({}) skipped: {}",
                    chat.id,
                    action.name(),
                    if agent.is_some() {
                        "an agent is already in the chat"
                    } else {
                        "no agent is in the chat"
                    }
                ),
            }
            if chat.state() == ChatState::Idle {
                return Ok(());
            }
            index += 1;
        }
        Ok(())
    }
}
