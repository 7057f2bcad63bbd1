//! Login throttling (chapter 14): at most so many attempts per account and per
//! client address, with `governor`'s keyed rate limiters (GCRA, no timers).
//!
//! Both keys are needed. Per address alone, a botnet tries one account's
//! password from thousands of addresses; per account alone, one address tries
//! one common password on every account. Every attempt counts, right or wrong,
//! and the account key is the username *as submitted*, whether it exists or
//! not: an unknown user is throttled exactly like a known one, so the limiter
//! cannot tell an attacker which accounts exist.
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter};

use crate::error::ApiError;

/// Longer usernames are refused (400) before they become a limiter key, so an
/// attacker cannot fill the limiter's memory with megabyte keys.
pub const MAX_USERNAME_BYTES: usize = 256;

/// How often keys whose limit has fully recovered are dropped.
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(60);

// ANCHOR: throttle
/// The login limits of one server: one rate limiter keyed by username, one
/// keyed by client address.
pub struct LoginThrottle {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl LoginThrottle {
    /// `per_account` and `per_address` attempts per minute, each in bursts of the
    /// same size; a background task drops recovered keys every
    /// [`CLEANUP_INTERVAL`], so the state stays bounded by recent traffic.
    pub fn start(per_account: NonZeroU32, per_address: NonZeroU32) -> Arc<Self> {
        let throttle = Arc::new(Self {
            per_account: RateLimiter::keyed(Quota::per_minute(per_account)),
            per_address: RateLimiter::keyed(Quota::per_minute(per_address)),
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
                throttle.per_account.retain_recent();
                throttle.per_account.shrink_to_fit();
                throttle.per_address.retain_recent();
                throttle.per_address.shrink_to_fit();
            }
        });
        throttle
    }

    /// Counts one login attempt for `username` from `address`, before any
    /// password is hashed: `Ok`, or `429` with `Retry-After`. The address is
    /// checked first, so an address over its limit adds no account keys.
    pub fn check(&self, address: IpAddr, username: &str) -> Result<(), ApiError> {
        if username.len() > MAX_USERNAME_BYTES {
            return Err(ApiError::InvalidRequest("the username is too long"));
        }
        self.per_address
            .check_key(&client(address))
            .map_err(|until| self.refusal(&until))?;
        self.per_account
            .check_key(&username.to_owned())
            .map_err(|until| self.refusal(&until))
    }

    fn refusal(&self, until: &NotUntil<<DefaultClock as Clock>::Instant>) -> ApiError {
        tracing::info!("login attempt throttled");
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
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((v6.to_bits() & !u128::from(u64::MAX)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
