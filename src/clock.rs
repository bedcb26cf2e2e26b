//! The emulator's time: the wall clock plus an offset, or frozen at an instant. Every `utcTime`,
//! every due time and the inactivity timeout follow it, so a test can move time instead of
//! waiting. Each chat may be further ahead by its own offset (`chats.clock_offset`), so parallel
//! tests against one emulator do not disturb each other. The state is kept in SQLite (`clock`)
//! by the store, which moves it forward (`store/clock.rs`); this is its copy in memory.

use std::sync::RwLock;

use serde::Serialize;

/// Milliseconds since the Unix epoch on the wall clock.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the clock is: an offset from the wall clock, or an instant it is frozen at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockState {
    pub offset_ms: i64,
    pub frozen_at: Option<i64>,
}

impl ClockState {
    /// The emulator's time when the wall clock reads `wall`.
    pub fn now_at(self, wall: i64) -> i64 {
        self.frozen_at.unwrap_or(wall + self.offset_ms)
    }

    /// Frozen at the instant it reads now, or running on from it: time never jumps.
    pub fn frozen(self, freeze: bool, wall: i64) -> ClockState {
        let now = self.now_at(wall);
        match (freeze, self.frozen_at) {
            (true, _) => ClockState { offset_ms: now - wall, frozen_at: Some(now) },
            (false, Some(at)) => ClockState { offset_ms: at - wall, frozen_at: None },
            (false, None) => self,
        }
    }

    /// Moved forward by `ms`.
    pub fn advanced(self, ms: i64) -> ClockState {
        ClockState { offset_ms: self.offset_ms + ms, frozen_at: self.frozen_at.map(|at| at + ms) }
    }
}

/// What `GET /__admin/clock` shows.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockView {
    pub now: i64,
    pub frozen: bool,
    /// `now` minus the wall clock (it keeps changing while frozen).
    pub offset_ms: i64,
}

/// The clock in memory. The writer thread is the only one that changes it (after writing the
/// new state in its transaction), so every write sees one time throughout.
#[derive(Debug, Default)]
pub struct Clock {
    state: RwLock<ClockState>,
}

impl Clock {
    pub fn new(state: ClockState) -> Clock {
        Clock { state: RwLock::new(state) }
    }

    pub fn state(&self) -> ClockState {
        *self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set(&self, state: ClockState) {
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = state;
    }

    /// The emulator's time now, in milliseconds since the epoch.
    pub fn now(&self) -> i64 {
        self.state().now_at(wall_ms())
    }

    pub fn view(&self) -> ClockView {
        let wall = wall_ms();
        let state = self.state();
        let now = state.now_at(wall);
        ClockView { now, frozen: state.frozen_at.is_some(), offset_ms: now - wall }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freezing_and_unfreezing_never_moves_time() {
        let real = ClockState { offset_ms: 500, frozen_at: None };
        let frozen = real.frozen(true, 1_000);
        assert_eq!(frozen.now_at(1_000), 1_500);
        assert_eq!(frozen.now_at(9_000), 1_500, "frozen time stands still");
        let running = frozen.frozen(false, 9_000);
        assert_eq!(running.now_at(9_000), 1_500, "unfreezing resumes from the frozen instant");
        assert_eq!(running.now_at(9_010), 1_510);
    }

    #[test]
    fn advancing_moves_frozen_and_running_clocks() {
        let frozen = ClockState { offset_ms: 0, frozen_at: Some(100) }.advanced(50);
        assert_eq!(frozen.now_at(0), 150);
        let running = ClockState { offset_ms: 10, frozen_at: None }.advanced(50);
        assert_eq!(running.now_at(1_000), 1_060);
    }
}
