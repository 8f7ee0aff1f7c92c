//! Failed-login throttling: after `max_failures` consecutive failures an
//! account is locked for `lock_duration`. Kept in memory: a restart clears
//! it, which is acceptable for throttling (it is not an audit log).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_duration: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy { max_failures: 5, lock_duration: Duration::from_secs(300) }
    }
}

#[derive(Default)]
struct Attempts {
    failures: u32,
    locked_until: Option<Instant>,
}

pub struct LoginGuard {
    policy: LockoutPolicy,
    attempts: Mutex<HashMap<String, Attempts>>,
}

impl LoginGuard {
    pub fn new(policy: LockoutPolicy) -> Self {
        LoginGuard { policy, attempts: Mutex::new(HashMap::new()) }
    }

    pub fn is_locked(&self, username: &str, now: Instant) -> bool {
        let attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        attempts
            .get(username)
            .and_then(|a| a.locked_until)
            .is_some_and(|until| now < until)
    }

    /// Records a failure; returns true if this failure locked the account.
    pub fn record_failure(&self, username: &str, now: Instant) -> bool {
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = attempts.entry(username.to_owned()).or_default();
        if entry.locked_until.is_some_and(|until| now >= until) {
            *entry = Attempts::default();
        }
        entry.failures += 1;
        if entry.failures >= self.policy.max_failures && entry.locked_until.is_none() {
            entry.locked_until = Some(now + self.policy.lock_duration);
            return true;
        }
        false
    }

    pub fn record_success(&self, username: &str) {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner).remove(username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_unlocks_after_the_duration() {
        let guard = LoginGuard::new(LockoutPolicy {
            max_failures: 3,
            lock_duration: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        assert!(!guard.record_failure("alice", t0));
        assert!(!guard.record_failure("alice", t0));
        assert!(!guard.is_locked("alice", t0));
        assert!(guard.record_failure("alice", t0));
        assert!(guard.is_locked("alice", t0));
        assert!(!guard.is_locked("bob", t0));
        let later = t0 + Duration::from_secs(61);
        assert!(!guard.is_locked("alice", later));
        assert!(!guard.record_failure("alice", later), "the count starts again");
    }

    #[test]
    fn success_resets_the_count() {
        let guard = LoginGuard::new(LockoutPolicy { max_failures: 2, ..Default::default() });
        let now = Instant::now();
        guard.record_failure("alice", now);
        guard.record_success("alice");
        assert!(!guard.record_failure("alice", now));
    }
}
