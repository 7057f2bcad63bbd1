//! Throttling of the endpoints that hash a password (chapter 14): login
//! attempts per account and per client address, sign-ups per client address,
//! with `governor`'s keyed rate limiters (GCRA, no timers).
//!
//! Login needs both keys. Per address alone, a botnet tries one account's
//! password from thousands of addresses; per account alone, one address tries
//! one common password on every account. Every attempt counts, right or wrong,
//! and the account key is the username *as submitted*, whether it exists or
//! not: an unknown user is throttled exactly like a known one, so the limiter
//! cannot tell an attacker which accounts exist.
//!
//! Sign-up is keyed by address only (the names are new by definition), and
//! counts every attempt too, so neither mass account creation nor probing
//! which names are taken (a `409`) goes faster than the limit.
//!
//! The state is bounded by design, not by the attacker's goodwill: an account
//! key is one of [`MAX_TRACKED_ACCOUNTS`] buckets, chosen by a keyed hash of
//! the name, whatever was submitted. However many names arrive, the map
//! cannot grow past that, and nothing is ever refused for lack of room. Two
//! names in one bucket share a limit; the hash key is random at start-up, so
//! nobody can choose a name that shares alice's.
use std::hash::BuildHasher;
use std::hash::RandomState;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter};

use crate::error::ApiError;

/// Longer usernames are refused (400) before they are hashed into a limiter
/// key: no account has such a name, and a megabyte "name" would buy a
/// megabyte of hashing per attempt.
pub const MAX_USERNAME_BYTES: usize = 256;

/// How many account buckets exist, hence the most account keys tracked at
/// once (a few MB of limiter state).
pub const MAX_TRACKED_ACCOUNTS: u64 = 100_000;

/// How often keys whose limit has fully recovered are dropped.
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(60);

// ANCHOR: throttle
/// How many attempts each key may make; each limit is also its burst.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Login attempts per minute per username, as submitted.
    pub logins_per_account: NonZeroU32,
    /// Login attempts per minute per client address.
    pub logins_per_address: NonZeroU32,
    /// Sign-up attempts per hour per client address.
    pub signups_per_address: NonZeroU32,
}

/// The limits of one server: one rate limiter per kind of key.
pub struct Throttle {
    /// Keyed by [`account_key`](Self::account_key), not by the name itself.
    login_per_account: DefaultKeyedRateLimiter<u64>,
    /// Random at start-up, so no one can choose names that share a key.
    account_hasher: RandomState,
    login_per_address: DefaultKeyedRateLimiter<IpAddr>,
    signup_per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl Throttle {
    /// The throttle for `limits`; a background task drops recovered keys every
    /// [`CLEANUP_INTERVAL`], so the state stays bounded by recent traffic.
    pub fn start(limits: Limits) -> Arc<Self> {
        let throttle = Arc::new(Self {
            login_per_account: RateLimiter::keyed(Quota::per_minute(limits.logins_per_account)),
            account_hasher: RandomState::new(),
            login_per_address: RateLimiter::keyed(Quota::per_minute(limits.logins_per_address)),
            signup_per_address: RateLimiter::keyed(Quota::per_hour(limits.signups_per_address)),
            clock: DefaultClock::default(),
        });
        let weak = Arc::downgrade(&throttle);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CLEANUP_INTERVAL);
            loop {
                every.tick().await;
                let Some(throttle) = weak.upgrade() else {
                    break;
                };
                throttle.login_per_account.retain_recent();
                throttle.login_per_account.shrink_to_fit();
                throttle.login_per_address.retain_recent();
                throttle.login_per_address.shrink_to_fit();
                throttle.signup_per_address.retain_recent();
                throttle.signup_per_address.shrink_to_fit();
            }
        });
        throttle
    }

    /// Counts one login attempt for `username` from `address`, before any
    /// password is hashed: `Ok`, or `429` with `Retry-After`. The address is
    /// checked first, so an address over its limit adds no account keys.
    pub fn check_login(&self, address: IpAddr, username: &str) -> Result<(), ApiError> {
        if username.len() > MAX_USERNAME_BYTES {
            return Err(ApiError::InvalidRequest("the username is too long"));
        }
        self.login_per_address
            .check_key(&client(address))
            .map_err(|until| self.refusal("login", &until))?;
        self.login_per_account
            .check_key(&self.account_key(username))
            .map_err(|until| self.refusal("login", &until))
    }

    /// The bucket of the username as submitted: SipHash with this server's
    /// random key, modulo [`MAX_TRACKED_ACCOUNTS`].
    fn account_key(&self, username: &str) -> u64 {
        self.account_hasher.hash_one(username) % MAX_TRACKED_ACCOUNTS
    }

    /// Counts one sign-up attempt from `address`, before any password is
    /// hashed: `Ok`, or `429` with `Retry-After`.
    pub fn check_signup(&self, address: IpAddr) -> Result<(), ApiError> {
        self.signup_per_address
            .check_key(&client(address))
            .map_err(|until| self.refusal("sign-up", &until))
    }

    fn refusal(
        &self,
        attempt: &'static str,
        until: &NotUntil<<DefaultClock as Clock>::Instant>,
    ) -> ApiError {
        tracing::info!(attempt, "attempt throttled");
        ApiError::TooManyRequests {
            retry_after: until.wait_time_from(self.clock.now()),
        }
    }
}
// ANCHOR_END: throttle

/// The client an address stands for: an IPv4 address, or the /64 network of an
/// IPv6 address (one subscriber usually holds a whole /64, so limiting single
/// IPv6 addresses would limit nobody).
fn client(address: IpAddr) -> IpAddr {
    // An IPv4-mapped IPv6 address (`::ffff:192.0.2.7`) is its IPv4 address.
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((v6.to_bits() & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn account_keys_are_bounded_whatever_names_arrive() {
        let many = NonZeroU32::MAX;
        let throttle = Throttle::start(Limits {
            logins_per_account: NonZeroU32::MIN,
            logins_per_address: many,
            signups_per_address: many,
        });
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        // Twice as many 256-byte names as there are buckets: each is counted
        // (a name whose bucket another took is throttled), none is refused for
        // lack of room, and the map stops at the number of buckets.
        let name = |i: u64| format!("{i:0>256}");
        let mut throttled = 0;
        for i in 0..2 * MAX_TRACKED_ACCOUNTS {
            match throttle.check_login(address, &name(i)) {
                Ok(()) => {}
                Err(ApiError::TooManyRequests { .. }) => throttled += 1,
                Err(other) => panic!("{i}: {other:?}"),
            }
        }
        let tracked = throttle.login_per_account.len() as u64;
        assert!(tracked <= MAX_TRACKED_ACCOUNTS, "{tracked}");
        // Every bucket admitted one name; all the others were throttled.
        assert_eq!(throttled, 2 * MAX_TRACKED_ACCOUNTS - tracked);
    }

    #[test]
    fn ipv6_addresses_are_grouped_by_64_bit_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client(a), client(b));
        assert_ne!(client(a), client(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
