//! Per-request limits of the query API: body size, body arrival time, and how many queries one team
//! may run at once (a slot is held from compilation to ClickHouse's answer; the next one answers 429
//! with `Retry-After`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest request body, in bytes (a HogQL query and its values; PostHog's API takes a few MB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Queries one team may run at once (PostHog's per-team API concurrency is 3).
pub const DEFAULT_MAX_CONCURRENT_PER_TEAM: usize = 3;
/// Longest time a request body may take to arrive.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The limits and the per-team count of running queries; share one per server.
#[derive(Debug)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Queries one team may run at once.
    pub max_concurrent_per_team: usize,
    /// Longest time a request body may take to arrive.
    pub body_read_timeout: Duration,
    running: Mutex<HashMap<i64, usize>>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(
            DEFAULT_MAX_BODY_BYTES,
            DEFAULT_MAX_CONCURRENT_PER_TEAM,
            DEFAULT_BODY_READ_TIMEOUT,
        )
    }
}

impl Limits {
    /// Limits with nothing running yet.
    pub fn new(
        max_body_bytes: usize,
        max_concurrent_per_team: usize,
        body_read_timeout: Duration,
    ) -> Limits {
        Limits {
            max_body_bytes,
            max_concurrent_per_team,
            body_read_timeout,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for one query of `team_id`, or `None` when the team runs its limit already. The slot
    /// is given back when dropped (also when the request's task panics or is cancelled).
    pub fn try_acquire(self: &Arc<Self>, team_id: i64) -> Option<Slot> {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = running.entry(team_id).or_insert(0);
        if *count >= self.max_concurrent_per_team {
            return None;
        }
        *count += 1;
        Some(Slot {
            limits: self.clone(),
            team_id,
        })
    }

    /// Queries of `team_id` running now.
    pub fn running(&self, team_id: i64) -> usize {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&team_id)
            .copied()
            .unwrap_or(0)
    }
}

/// One running query of a team; see [`Limits::try_acquire`].
#[derive(Debug)]
pub struct Slot {
    limits: Arc<Limits>,
    team_id: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self
            .limits
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = running.get_mut(&self.team_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.team_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_team_and_come_back_when_dropped() {
        let limits = Arc::new(Limits::new(10, 2, DEFAULT_BODY_READ_TIMEOUT));
        let a1 = limits.try_acquire(1).expect("first");
        let _a2 = limits.try_acquire(1).expect("second");
        assert!(limits.try_acquire(1).is_none());
        let _b = limits.try_acquire(2).expect("another team is not affected");
        drop(a1);
        assert_eq!(limits.running(1), 1);
        assert!(limits.try_acquire(1).is_some());
    }
}
