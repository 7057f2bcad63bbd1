//! The embedded store: one process, no setup.
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::{Family, RevocationQuery, Rotation, Store, StoreError};
use crate::source::BoxFuture;

/// How many refresh tokens of a family (current and rotated) are remembered.
const REMEMBERED_TOKENS: usize = 32;

/// Default bound on the families (logins) one subject may hold in a [`MemoryStore`].
pub const DEFAULT_MAX_FAMILIES_PER_SUBJECT: usize = 64;

/// Default bound on live families (logins) in a [`MemoryStore`].
pub const DEFAULT_MAX_FAMILIES: usize = 100_000;

/// An in-memory [`Store`] for a single instance: bounded, with expired entries
/// purged as it goes. State is lost on restart (users log in again); for several
/// instances use `RedisStore` (feature `redis`).
///
/// When full, creating a family fails with [`StoreError`] (login answers 503)
/// rather than silently evicting someone's session.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    max_families: usize,
    max_per_subject: usize,
}

#[derive(Debug, Default)]
struct State {
    families: HashMap<String, Entry>,
    tokens: HashMap<String, String>,
    revoked_families: HashMap<String, u64>,
    cutoffs: HashMap<String, (u64, u64)>,
    denied: HashMap<String, u64>,
    subjects: HashMap<String, HashSet<String>>,
    last_purge: u64,
    next_seq: u64,
}

#[derive(Debug)]
struct Entry {
    family: Family,
    current: String,
    hashes: Vec<String>,
    revoked: bool,
    /// Creation order, for "drop the oldest".
    seq: u64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store bounded to [`DEFAULT_MAX_FAMILIES`] live families.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_MAX_FAMILIES)
    }

    /// A store bounded to `max_families` live families.
    pub fn with_capacity(max_families: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            max_families,
            max_per_subject: DEFAULT_MAX_FAMILIES_PER_SUBJECT,
        }
    }

    /// Bounds the families one subject may hold (default
    /// [`DEFAULT_MAX_FAMILIES_PER_SUBJECT`]): a new login beyond it drops that
    /// subject's oldest family (its refresh tokens stop working; its access
    /// tokens live to their `exp`), so one account cannot fill the store and
    /// lock everyone else out.
    pub fn max_families_per_subject(mut self, max: usize) -> Self {
        self.max_per_subject = max.max(1);
        self
    }

    /// How many families are held (live or awaiting purge).
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.families.len()).unwrap_or(0)
    }

    /// Whether no family is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, StoreError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| StoreError("memory store lock poisoned".into()))?;
        Ok(f(&mut state))
    }
}

impl State {
    /// Drops what has expired; at most once a second, or when `force`d.
    fn purge(&mut self, now: u64, force: bool) {
        if !force && now <= self.last_purge {
            return;
        }
        self.last_purge = now;
        let dead: Vec<String> = self
            .families
            .iter()
            .filter(|(_, e)| now >= e.family.idle_expiry.min(e.family.absolute_expiry))
            .map(|(id, _)| id.clone())
            .collect();
        for id in dead {
            self.remove_family(&id);
        }
        self.revoked_families.retain(|_, until| *until > now);
        self.cutoffs.retain(|_, (_, until)| *until > now);
        self.denied.retain(|_, until| *until > now);
    }

    fn remove_family(&mut self, id: &str) {
        if let Some(entry) = self.families.remove(id) {
            for hash in entry.hashes {
                self.tokens.remove(&hash);
            }
            if let Some(set) = self.subjects.get_mut(&entry.family.subject) {
                set.remove(id);
                if set.is_empty() {
                    self.subjects.remove(&entry.family.subject);
                }
            }
        }
    }

    /// Revokes and drops the subject's oldest families until at most `keep` remain.
    fn evict_oldest_beyond(&mut self, subject: &str, keep: usize) {
        let Some(ids) = self.subjects.get(subject) else {
            return;
        };
        let mut live: Vec<(u64, String)> = ids
            .iter()
            .filter_map(|id| self.families.get(id).map(|e| (e.seq, id.clone())))
            .collect();
        if live.len() <= keep {
            return;
        }
        live.sort();
        let excess = live.len() - keep;
        for (_, id) in live.into_iter().take(excess) {
            // A capacity measure, not a revocation: its refresh tokens die now,
            // its access tokens at their `exp`. No marker is kept, so a login
            // loop on one account cannot grow the store either.
            tracing::info!(target: "jwt_layer", %subject, family = %id, "too many sessions; dropping the oldest");
            self.remove_family(&id);
        }
    }

    fn revoke(&mut self, id: &str, until: u64) {
        self.revoked_families.insert(id.to_owned(), until);
        if let Some(entry) = self.families.get_mut(id) {
            // Kept (until it would have expired anyway) so that its tokens read
            // as revoked rather than unknown.
            entry.revoked = true;
        }
    }
}

impl Store for MemoryStore {
    fn create_family<'a>(
        &'a self,
        family: &'a Family,
        token_hash: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                state.purge(now, false);
                state.evict_oldest_beyond(&family.subject, self.max_per_subject - 1);
                if state.families.len() >= self.max_families {
                    state.purge(now, true);
                }
                if state.families.len() >= self.max_families {
                    return Err(StoreError(format!(
                        "memory store full ({} families); raise MemoryStore::with_capacity or use Redis",
                        self.max_families
                    )));
                }
                state.next_seq += 1;
                state.tokens.insert(token_hash.to_owned(), family.id.clone());
                state
                    .subjects
                    .entry(family.subject.clone())
                    .or_default()
                    .insert(family.id.clone());
                state.families.insert(
                    family.id.clone(),
                    Entry {
                        family: family.clone(),
                        current: token_hash.to_owned(),
                        hashes: vec![token_hash.to_owned()],
                        revoked: false,
                        seq: state.next_seq,
                    },
                );
                Ok(())
            })?
        })
    }

    fn rotate<'a>(
        &'a self,
        old_hash: &'a str,
        new_hash: &'a str,
        now: u64,
        idle: u64,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                let Some(id) = state.tokens.get(old_hash).cloned() else {
                    return Rotation::Unknown;
                };
                let Some(entry) = state.families.get_mut(&id) else {
                    return Rotation::Unknown;
                };
                if entry.revoked {
                    return Rotation::Revoked;
                }
                if entry.current != old_hash {
                    let subject = entry.family.subject.clone();
                    let until = entry.family.absolute_expiry.max(now).saturating_add(idle);
                    state.revoke(&id, until);
                    return Rotation::Reused {
                        family_id: id,
                        subject,
                    };
                }
                if now >= entry.family.absolute_expiry || now >= entry.family.idle_expiry {
                    return Rotation::Expired;
                }
                entry.current = new_hash.to_owned();
                entry.hashes.push(new_hash.to_owned());
                // Remember only the last rotated tokens for reuse detection, so a
                // client refreshing in a loop cannot grow the store. An older
                // token then reads as unknown: still refused, just not flagged.
                if entry.hashes.len() > REMEMBERED_TOKENS {
                    let forgotten = entry.hashes.remove(0);
                    state.tokens.remove(&forgotten);
                }
                entry.family.idle_expiry =
                    now.saturating_add(idle).min(entry.family.absolute_expiry);
                let family = entry.family.clone();
                state.tokens.insert(new_hash.to_owned(), id);
                Rotation::Rotated(family)
            })
        })
    }

    fn family_of<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<Family>, StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                let id = state.tokens.get(token_hash)?;
                state
                    .families
                    .get(id)
                    .filter(|e| !e.revoked)
                    .map(|e| e.family.clone())
            })
        })
    }

    fn revoke_family<'a>(
        &'a self,
        family_id: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                state.purge(crate::validate::now(), false);
                state.revoke(family_id, until)
            })
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        cutoff: u64,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                let ids: Vec<String> = state
                    .subjects
                    .get(subject)
                    .map(|set| set.iter().cloned().collect())
                    .unwrap_or_default();
                for id in ids {
                    state.revoke(&id, until);
                }
                state.cutoffs.insert(subject.to_owned(), (cutoff, until));
            })
        })
    }

    fn deny_jti<'a>(&'a self, jti: &'a str, until: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                // Denials are not tied to a family: purge here too, so they stay bounded.
                state.purge(crate::validate::now(), false);
                state.denied.insert(jti.to_owned(), until);
            })
        })
    }

    fn is_revoked<'a>(
        &'a self,
        query: RevocationQuery<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            self.with(|state| {
                let live = |until: Option<&u64>| until.is_some_and(|u| *u > now);
                if query
                    .family
                    .is_some_and(|f| live(state.revoked_families.get(f)))
                {
                    return true;
                }
                if query.jti.is_some_and(|j| live(state.denied.get(j))) {
                    return true;
                }
                // Tokens of a family are covered by the family's own revocation
                // (every family of the subject was revoked); the cut-off is for
                // tokens outside any family, so a login right after it works.
                query.family.is_none()
                    && query.subject.is_some_and(|s| {
                        state.cutoffs.get(s).is_some_and(|(cutoff, until)| {
                            *until > now && query.issued_at <= *cutoff
                        })
                    })
            })
        })
    }
}
