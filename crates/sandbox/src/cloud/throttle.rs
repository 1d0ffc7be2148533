//! Sliding-window counters for failed sign-ins, per account and per client
//! address, kept in memory (a restart forgets them, as is fine for a
//! sandbox).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// A limit: at most `max` events per `window` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: usize,
    pub window: i64,
}

/// Failed password sign-ins per account: 5 per 15 minutes.
pub const PER_ACCOUNT: Limit = Limit {
    max: 5,
    window: 15 * 60,
};
/// Failed password sign-ins per client address: 20 per 15 minutes.
pub const PER_ADDRESS: Limit = Limit {
    max: 20,
    window: 15 * 60,
};

#[derive(Default)]
pub struct Throttle {
    events: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Throttle {
    /// Seconds until `key` may try again, if it is over `limit` now.
    pub fn blocked(&self, key: &str, limit: Limit, now: i64) -> Option<u64> {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let queue = events.get_mut(key)?;
        while queue.front().is_some_and(|t| *t <= now - limit.window) {
            queue.pop_front();
        }
        if queue.len() >= limit.max {
            let oldest = queue.front().copied().unwrap_or(now);
            Some(
                u64::try_from(oldest + limit.window - now)
                    .unwrap_or(1)
                    .max(1),
            )
        } else {
            None
        }
    }

    /// Counts one event for `key`.
    pub fn record(&self, key: &str, now: i64) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let queue = events.entry(key.to_owned()).or_default();
        queue.push_back(now);
        while queue.len() > 64 {
            queue.pop_front();
        }
    }

    /// Forgets `key` (after a successful sign-in or a password reset).
    pub fn clear(&self, key: &str) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_and_frees_after_window() {
        let t = Throttle::default();
        let limit = Limit { max: 3, window: 60 };
        for i in 0..3 {
            assert_eq!(t.blocked("k", limit, 100 + i), None);
            t.record("k", 100 + i);
        }
        assert_eq!(t.blocked("k", limit, 103), Some(57));
        assert_eq!(t.blocked("other", limit, 103), None);
        assert_eq!(t.blocked("k", limit, 161), None);
        t.record("k", 161);
        t.clear("k");
        assert_eq!(t.blocked("k", limit, 161), None);
    }
}
