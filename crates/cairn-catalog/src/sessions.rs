//! Connected sessions. They live in memory: a session is a connection, and
//! connections do not outlive the process.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use cairn_types::{SessionId, SessionInfo};

#[derive(Default, Clone)]
pub struct Sessions {
    inner: Arc<RwLock<BTreeMap<SessionId, SessionInfo>>>,
}

/// Removes its session from the registry when dropped, so a connection
/// that ends in any way (error, panic, client gone) is not left listed.
pub struct SessionGuard {
    sessions: Sessions,
    id: SessionId,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.sessions.inner.write().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
    }
}

impl Sessions {
    pub fn register(&self, info: SessionInfo) -> SessionGuard {
        let id = info.id;
        self.inner.write().unwrap_or_else(PoisonError::into_inner).insert(id, info);
        SessionGuard { sessions: self.clone(), id }
    }

    /// Changes a listed session in place (a no-op once it has ended).
    pub fn update(&self, id: SessionId, change: impl FnOnce(&mut SessionInfo)) {
        if let Some(info) = self.inner.write().unwrap_or_else(PoisonError::into_inner).get_mut(&id) {
            change(info);
        }
    }

    pub fn list(&self) -> Vec<SessionInfo> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
