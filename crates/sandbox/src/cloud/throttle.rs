//! Sliding-window counters for failed sign-ins, per account and per client
//! address, kept in memory (a restart forgets them, as is fine for a
//! sandbox).
//!
//! A password attempt takes its slot *before* the (slow, awaited) password
//! hash is checked: [`Throttle::reserve`] checks every limit and counts the
//! attempt under one lock, so N parallel wrong passwords get at most the
//! limit's hash checks; the rest are refused up front. A right password
//! gives the slots back ([`Reservation::release`]).

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

/// Attempts counted by [`Throttle::reserve`]: kept as failures unless
/// given back with [`Throttle::release`].
#[must_use]
#[derive(Debug)]
pub struct Reservation {
    keys: Vec<String>,
    at: i64,
}

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

    /// Atomically: if no `(key, limit)` is over its limit now, counts one
    /// event for each and returns the reservation; else the seconds until
    /// the first blocked key may try again.
    pub fn reserve(&self, keys: &[(&str, Limit)], now: i64) -> Result<Reservation, u64> {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        for (key, limit) in keys {
            if let Some(queue) = events.get_mut(*key) {
                while queue.front().is_some_and(|t| *t <= now - limit.window) {
                    queue.pop_front();
                }
                if queue.len() >= limit.max {
                    let oldest = queue.front().copied().unwrap_or(now);
                    return Err(u64::try_from(oldest + limit.window - now)
                        .unwrap_or(1)
                        .max(1));
                }
            }
        }
        for (key, _) in keys {
            let queue = events.entry((*key).to_owned()).or_default();
            queue.push_back(now);
            while queue.len() > 64 {
                queue.pop_front();
            }
        }
        Ok(Reservation {
            keys: keys.iter().map(|(k, _)| (*k).to_owned()).collect(),
            at: now,
        })
    }

    /// Gives back the events a reservation counted (the password was right).
    pub fn release(&self, reservation: Reservation) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        for key in &reservation.keys {
            if let Some(queue) = events.get_mut(key) {
                if let Some(i) = queue.iter().rposition(|t| *t == reservation.at) {
                    queue.remove(i);
                }
            }
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

    #[test]
    fn reserve_counts_before_the_check_and_release_gives_back() {
        let t = Throttle::default();
        let a = Limit { max: 2, window: 60 };
        let b = Limit { max: 3, window: 60 };
        let r1 = t.reserve(&[("acct", a), ("addr", b)], 100).unwrap();
        let _r2 = t.reserve(&[("acct", a), ("addr", b)], 100).unwrap();
        // The account is full: refused, and nothing more is counted.
        assert_eq!(t.reserve(&[("acct", a), ("addr", b)], 101).unwrap_err(), 59);
        assert_eq!(t.blocked("addr", b, 101), None);
        t.release(r1);
        let _r3 = t.reserve(&[("acct", a), ("addr", b)], 102).unwrap();
        // Two attempts counted at the address (the released one is gone).
        assert_eq!(t.blocked("addr", b, 102), None);
        assert_eq!(t.reserve(&[("acct", a), ("addr", b)], 103).unwrap_err(), 57);
    }
}
