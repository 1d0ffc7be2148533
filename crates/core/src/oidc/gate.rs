//! One pending county sign-in at a time ([`SignInGate`], `signin.pending`)
//! and the cancel handle ([`SignInCancel`], `signin.cancelled`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::{CoreError, Result};

/// Allows one pending county sign-in at a time.
#[derive(Debug, Clone, Default)]
pub struct SignInGate(Arc<AtomicBool>);

pub(crate) struct GateGuard(Arc<AtomicBool>);

impl Drop for GateGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl SignInGate {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn acquire(&self) -> Result<GateGuard> {
        self.0
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .map_err(|_| CoreError::SignInPending)?;
        Ok(GateGuard(self.0.clone()))
    }

    /// Whether a sign-in is pending.
    pub fn is_busy(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Cancels a pending sign-in (clonable; safe from any thread).
#[derive(Debug, Clone, Default)]
pub struct SignInCancel(pub(crate) CancellationToken);

impl SignInCancel {
    pub fn cancel(&self) {
        self.0.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_one_at_a_time() {
        let gate = SignInGate::new();
        let g = gate.acquire().unwrap();
        assert!(gate.is_busy());
        assert_eq!(gate.acquire().err().unwrap().code(), "signin.pending");
        drop(g);
        assert!(!gate.is_busy());
        assert!(gate.acquire().is_ok());
    }
}
