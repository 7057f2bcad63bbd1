//! The embedded store: one process, no setup.
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::{
    DEFAULT_MAX_SESSIONS_PER_SUBJECT, NewSession, RevocationQuery, Rotation, RotationRequest,
    Session, Store, StoreError,
};
use crate::future::BoxFuture;

/// Default bound on live sessions (logins) in a [`MemoryStore`].
pub const DEFAULT_MAX_SESSIONS: usize = 100_000;

/// An in-memory [`Store`] for a single instance: bounded, with expired entries
/// purged as it goes. State is lost on restart (users log in again: their
/// access tokens name sessions that no longer exist, so they are refused); for
/// several instances use `RedisStore` (feature `redis`).
///
/// Its size is bounded by design: one record per session (whatever the number
/// of rotations), at most [`with_capacity`](Self::with_capacity) sessions in
/// all and [`max_sessions_per_subject`](Self::max_sessions_per_subject) per
/// subject. When full, creating a session fails with [`StoreError`] (login
/// answers 503) rather than silently evicting someone else's session.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    max_sessions: usize,
    max_per_subject: usize,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, Entry>,
    subjects: HashMap<String, Subject>,
    denied: HashMap<String, u64>,
    last_purge_ms: u64,
}

#[derive(Debug)]
struct Entry {
    session: Session,
    current_hash: String,
    /// The secret replaced by the last rotation, for the reuse grace.
    previous_hash: Option<String>,
    rotated_ms: u64,
    /// The subject's logout epoch when the session was created.
    epoch: u64,
    /// When the record may go: expiry plus the revocation horizon.
    keep_until_ms: u64,
}

#[derive(Debug, Default)]
struct Subject {
    /// Incremented by "log out everywhere".
    epoch: u64,
    /// When "log out everywhere" last ran (Unix ms), for tokens without a session.
    logged_out_at_ms: Option<u64>,
    /// Until when that cut-off matters.
    cut_until_ms: u64,
    /// Session ids in creation order; at most the per-subject bound.
    sessions: VecDeque<String>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store bounded to [`DEFAULT_MAX_SESSIONS`] live sessions.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_MAX_SESSIONS)
    }

    /// A store bounded to `max_sessions` live sessions.
    pub fn with_capacity(max_sessions: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            max_sessions,
            max_per_subject: DEFAULT_MAX_SESSIONS_PER_SUBJECT,
        }
    }

    /// Bounds the sessions one subject may hold (default
    /// [`DEFAULT_MAX_SESSIONS_PER_SUBJECT`](super::DEFAULT_MAX_SESSIONS_PER_SUBJECT),
    /// at least 1): a new login beyond it evicts that subject's oldest session
    /// (its refresh and access tokens stop working), so one account cannot fill
    /// the store and lock everyone else out.
    pub fn max_sessions_per_subject(mut self, max: usize) -> Self {
        self.max_per_subject = max.max(1);
        self
    }

    /// How many session records are held (live, or kept until their access
    /// tokens expire).
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.sessions.len()).unwrap_or(0)
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many entries of any kind are held (sessions, subjects, denied
    /// `jti`s): the store's whole footprint, for tests and metrics.
    pub fn entries(&self) -> usize {
        self.state
            .lock()
            .map(|s| s.sessions.len() + s.subjects.len() + s.denied.len())
            .unwrap_or(0)
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, StoreError> {
        let mut state = self.state.lock().map_err(|_| {
            tracing::error!(target: "jwt_layer", "memory store lock poisoned; failing closed");
            StoreError("memory store lock poisoned".into())
        })?;
        Ok(f(&mut state))
    }
}

impl State {
    /// Drops what no longer matters; at most once a second, or when `force`d.
    fn purge(&mut self, now_ms: u64, force: bool) {
        if !force && now_ms < self.last_purge_ms.saturating_add(1000) {
            return;
        }
        self.last_purge_ms = now_ms;
        let dead: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, e)| now_ms >= e.keep_until_ms)
            .map(|(id, _)| id.clone())
            .collect();
        for id in dead {
            self.remove_session(&id);
        }
        self.denied.retain(|_, until| *until > now_ms);
        self.subjects.retain(|_, s| {
            if s.cut_until_ms <= now_ms {
                s.logged_out_at_ms = None;
            }
            // The epoch must survive as long as a session created before it
            // could: keep the subject while it has sessions or a live cut-off.
            !s.sessions.is_empty() || s.cut_until_ms > now_ms
        });
    }

    fn remove_session(&mut self, id: &str) -> Option<Entry> {
        let entry = self.sessions.remove(id)?;
        if let Some(subject) = self.subjects.get_mut(&entry.session.subject) {
            subject.sessions.retain(|s| s != id);
        }
        Some(entry)
    }

    /// How many of the subject's oldest sessions must go to make room for one
    /// more under the bound `max`; at most how many it has.
    fn excess(&self, subject: &str, max: usize) -> usize {
        self.subjects.get(subject).map_or(0, |s| {
            (s.sessions.len() + 1)
                .saturating_sub(max)
                .min(s.sessions.len())
        })
    }

    fn epoch_of(&self, subject: &str) -> u64 {
        self.subjects.get(subject).map_or(0, |s| s.epoch)
    }
}

impl Store for MemoryStore {
    fn create_session<'a>(
        &'a self,
        new: NewSession<'a>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                state.purge(now_ms, false);
                // A subject at its bound makes room itself, so it does not need
                // the store's spare capacity; otherwise the store must have room
                // (checked before evicting, so a refused login evicts nothing).
                if state.sessions.len().saturating_sub(state.excess(new.subject, self.max_per_subject))
                    >= self.max_sessions
                {
                    state.purge(now_ms, true);
                }
                let excess = state.excess(new.subject, self.max_per_subject);
                if state.sessions.len().saturating_sub(excess) >= self.max_sessions {
                    tracing::error!(target: "jwt_layer", capacity = self.max_sessions, "memory store full; login refused");
                    return Err(StoreError(format!(
                        "memory store full ({} sessions); raise MemoryStore::with_capacity or use Redis",
                        self.max_sessions
                    )));
                }
                let evicted: Vec<String> = state
                    .subjects
                    .get_mut(new.subject)
                    .map(|subject| subject.sessions.drain(..excess).collect())
                    .unwrap_or_default();
                for id in evicted {
                    tracing::info!(target: "jwt_layer", subject = %new.subject, session = %id, "too many sessions; evicting the oldest");
                    state.sessions.remove(&id);
                }
                let epoch = state.epoch_of(new.subject);
                state
                    .subjects
                    .entry(new.subject.to_owned())
                    .or_default()
                    .sessions
                    .push_back(new.id.to_owned());
                let expiry = new.idle_expiry_ms.min(new.absolute_expiry_ms);
                state.sessions.insert(
                    new.id.to_owned(),
                    Entry {
                        session: Session {
                            id: new.id.to_owned(),
                            subject: new.subject.to_owned(),
                            claims: new.claims.clone(),
                            authentication: new.authentication.clone(),
                            generation: 0,
                            created_ms: now_ms,
                            last_used_ms: now_ms,
                            absolute_expiry_ms: new.absolute_expiry_ms,
                            idle_expiry_ms: new.idle_expiry_ms,
                        },
                        current_hash: new.secret_hash.to_owned(),
                        previous_hash: None,
                        rotated_ms: now_ms,
                        epoch,
                        keep_until_ms: expiry.saturating_add(new.revocation_horizon_ms),
                    },
                );
                Ok(())
            })?
        })
    }

    fn rotate<'a>(
        &'a self,
        request: RotationRequest<'a>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                state.purge(now_ms, false);
                let current_epoch = match state.sessions.get(request.id) {
                    Some(entry) => state.epoch_of(&entry.session.subject),
                    None => return Rotation::Unknown,
                };
                let Some(entry) = state.sessions.get_mut(request.id) else {
                    return Rotation::Unknown;
                };
                if entry.epoch < current_epoch {
                    state.remove_session(request.id);
                    return Rotation::LoggedOut;
                }
                // Plain `==` on SHA-256 digests: a timing leak could at most tell
                // how many leading characters of the *hash* match, which does
                // not help to find a secret with that hash (preimage resistance).
                if entry.current_hash == request.presented_hash {
                    let session = &mut entry.session;
                    if now_ms >= session.absolute_expiry_ms || now_ms >= session.idle_expiry_ms {
                        return Rotation::Expired;
                    }
                    session.generation = session.generation.saturating_add(1);
                    session.last_used_ms = now_ms;
                    session.idle_expiry_ms = now_ms
                        .saturating_add(request.idle_timeout_ms)
                        .min(session.absolute_expiry_ms);
                    entry.previous_hash = Some(std::mem::replace(
                        &mut entry.current_hash,
                        request.next_hash.to_owned(),
                    ));
                    entry.rotated_ms = now_ms;
                    entry.keep_until_ms = session
                        .idle_expiry_ms
                        .saturating_add(request.revocation_horizon_ms);
                    return Rotation::Rotated(session.clone());
                }
                let in_grace = now_ms < entry.rotated_ms.saturating_add(request.reuse_grace_ms);
                if in_grace && entry.previous_hash.as_deref() == Some(request.presented_hash) {
                    return Rotation::Superseded;
                }
                let subject = entry.session.subject.clone();
                state.remove_session(request.id);
                Rotation::Reused { subject }
            })
        })
    }

    fn revoke_session<'a>(
        &'a self,
        session: &'a str,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                state.purge(now_ms, false);
                state.remove_session(session);
            })
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        now_ms: u64,
        until_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                state.purge(now_ms, false);
                let entry = state.subjects.entry(subject.to_owned()).or_default();
                entry.epoch = entry.epoch.saturating_add(1);
                entry.logged_out_at_ms = Some(now_ms);
                entry.cut_until_ms = entry.cut_until_ms.max(until_ms);
            })
        })
    }

    fn deny_jti<'a>(
        &'a self,
        jti: &'a str,
        now_ms: u64,
        until_ms: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                state.purge(now_ms, false);
                state.denied.insert(jti.to_owned(), until_ms);
            })
        })
    }

    fn is_revoked<'a>(
        &'a self,
        query: RevocationQuery<'a>,
        now_ms: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                if query
                    .jti
                    .and_then(|j| state.denied.get(j))
                    .is_some_and(|until| *until > now_ms)
                {
                    return true;
                }
                let subject = query.subject.and_then(|s| state.subjects.get(s));
                match query.session {
                    // A session token is good only while its session exists,
                    // belongs to the token's subject and predates no logout.
                    Some(id) => match state.sessions.get(id) {
                        Some(entry) => {
                            Some(entry.session.subject.as_str()) != query.subject
                                || entry.epoch < subject.map_or(0, |s| s.epoch)
                                || now_ms >= entry.keep_until_ms
                        }
                        None => true,
                    },
                    None => subject.is_some_and(|s| {
                        s.cut_until_ms > now_ms
                            && s.logged_out_at_ms
                                .is_some_and(|at| query.issued_at.saturating_mul(1000) <= at)
                    }),
                }
            })
        })
    }
}
