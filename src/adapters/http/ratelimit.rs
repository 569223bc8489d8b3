//! Per-address token buckets for the public routes a script could hammer (registration, ping).
//! An IPv4 address is one key; an IPv6 address counts by its /64, the block one host or one
//! home gets. Memory stays bounded: buckets that have refilled are forgotten (they are the same
//! as no bucket), and past `max_keys` the least recently seen are dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

/// A rate: `per_minute` requests per minute on average, up to `burst` at once. A `per_minute`
/// of 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    /// No limit.
    pub const OFF: Rate = Rate {
        per_minute: 0,
        burst: 0,
    };

    pub fn is_off(&self) -> bool {
        self.per_minute == 0
    }

    fn per_second(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    /// At least one request must fit.
    fn capacity(&self) -> f64 {
        f64::from(self.burst.max(1))
    }
}

/// The key of an address: IPv4 as it is, IPv6 by its /64 prefix.
pub fn address_key(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        // The upper half only; the low bit set keeps it apart from every IPv4 key.
        IpAddr::V6(v6) => (u128::from(v6) & !((1u128 << 64) - 1)) | 1 << 63,
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Default bound on the number of addresses remembered at once (about 50 bytes each).
pub const MAX_KEYS: usize = 100_000;
/// How often buckets that have refilled are swept away.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

struct State {
    buckets: HashMap<u128, Bucket>,
    last_sweep: Instant,
}

/// Token buckets by client address.
pub struct RateLimiter {
    rate: Rate,
    max_keys: usize,
    state: Mutex<State>,
}

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self::with_capacity(rate, MAX_KEYS)
    }

    /// With a bound on the addresses remembered (at least 2).
    pub fn with_capacity(rate: Rate, max_keys: usize) -> Self {
        RateLimiter {
            rate,
            max_keys: max_keys.max(2),
            state: Mutex::new(State {
                buckets: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Addresses currently remembered.
    pub fn len(&self) -> usize {
        self.lock().buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Takes one token for `ip` at `now`; when none is left, how long until one is.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.rate.is_off() {
            return Ok(());
        }
        let capacity = self.rate.capacity();
        let per_second = self.rate.per_second();
        let mut state = self.lock();
        if now.saturating_duration_since(state.last_sweep) >= SWEEP_EVERY {
            self.sweep(&mut state, now);
        }
        let k = address_key(ip);
        if !state.buckets.contains_key(&k) && state.buckets.len() >= self.max_keys {
            self.sweep(&mut state, now);
        }
        let bucket = state.buckets.entry(k).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.last = now.max(bucket.last);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            Err(Duration::from_secs_f64(wait))
        }
    }

    /// Forgets the buckets that have refilled; if that leaves more than half of `max_keys`,
    /// forgets the least recently seen down to half (so that sweeps stay rare under a flood of
    /// new addresses: each costs one pass, then half of `max_keys` insertions come free).
    fn sweep(&self, state: &mut State, now: Instant) {
        state.last_sweep = now;
        let capacity = self.rate.capacity();
        let per_second = self.rate.per_second();
        state.buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens + elapsed * per_second < capacity
        });
        let keep = self.max_keys / 2;
        if state.buckets.len() > keep {
            let mut seen: Vec<(Instant, u128)> =
                state.buckets.iter().map(|(k, b)| (b.last, *k)).collect();
            let cut = seen.len() - keep;
            seen.select_nth_unstable(cut - 1);
            for (_, k) in &seen[..cut] {
                state.buckets.remove(k);
            }
            tracing::warn!(
                remembered = keep,
                forgotten = cut,
                "rate limiter full: forgot the least recently seen addresses"
            );
        }
        state.buckets.shrink_to(self.max_keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_passes_then_requests_wait_for_the_refill() {
        let limiter = RateLimiter::new(Rate {
            per_minute: 6,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(ip("192.0.2.1"), t0), Ok(()));
        }
        // One token every 10 s.
        let wait = |at| {
            limiter
                .check(ip("192.0.2.1"), at)
                .unwrap_err()
                .as_secs_f64()
        };
        assert!((wait(t0) - 10.0).abs() < 1e-6);
        assert!((wait(t0 + Duration::from_secs(4)) - 6.0).abs() < 1e-6);
        assert_eq!(
            limiter.check(ip("192.0.2.1"), t0 + Duration::from_secs(10)),
            Ok(())
        );
        // Another address has its own bucket.
        assert_eq!(limiter.check(ip("192.0.2.2"), t0), Ok(()));
        // Long idle: refilled to the burst, not beyond.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.check(ip("192.0.2.1"), later), Ok(()));
        }
        assert!(limiter.check(ip("192.0.2.1"), later).is_err());
    }

    #[test]
    fn ipv6_addresses_share_the_bucket_of_their_64_and_mapped_ipv4_is_ipv4() {
        let limiter = RateLimiter::new(Rate {
            per_minute: 1,
            burst: 1,
        });
        let t0 = Instant::now();
        assert_eq!(limiter.check(ip("2001:db8:1:2::1"), t0), Ok(()));
        assert!(limiter.check(ip("2001:db8:1:2:ffff::9"), t0).is_err());
        assert_eq!(limiter.check(ip("2001:db8:1:3::1"), t0), Ok(()));
        assert_eq!(limiter.check(ip("10.0.0.1"), t0), Ok(()));
        assert!(limiter.check(ip("::ffff:10.0.0.1"), t0).is_err());
        assert_ne!(address_key(ip("0.0.0.1")), address_key(ip("::1")));
    }

    #[test]
    fn off_never_limits_and_remembers_nothing() {
        let limiter = RateLimiter::new(Rate::OFF);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert_eq!(limiter.check(ip("192.0.2.1"), t0), Ok(()));
        }
        assert!(limiter.is_empty());
    }

    #[test]
    fn memory_is_bounded_and_refilled_buckets_are_forgotten_first() {
        let limiter = RateLimiter::with_capacity(
            Rate {
                per_minute: 60,
                burst: 2,
            },
            100,
        );
        let t0 = Instant::now();
        // A flood of new addresses never holds more than max_keys.
        for i in 0..10_000u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(
                limiter.check(a, t0 + Duration::from_millis(u64::from(i))),
                Ok(())
            );
            assert!(limiter.len() <= 100);
        }
        // Buckets that have refilled (2 s at 1 token/s) are swept at the next sweep.
        let later = t0 + Duration::from_secs(200);
        assert_eq!(limiter.check(ip("192.0.2.1"), later), Ok(()));
        assert_eq!(limiter.len(), 1);
        // The most recently seen survive an overflow; the oldest go.
        let limiter = RateLimiter::with_capacity(
            Rate {
                per_minute: 1,
                burst: 1,
            },
            10,
        );
        for i in 0..10u8 {
            let a = IpAddr::from([192, 0, 2, i]);
            assert_eq!(
                limiter.check(a, t0 + Duration::from_millis(u64::from(i))),
                Ok(())
            );
        }
        assert_eq!(limiter.len(), 10);
        assert_eq!(
            limiter.check(ip("198.51.100.1"), t0 + Duration::from_millis(20)),
            Ok(())
        );
        assert_eq!(limiter.len(), 6, "down to half, then the newcomer");
        // 192.0.2.9 was among the recent: still limited. 192.0.2.0 was forgotten: fresh.
        assert!(limiter
            .check(ip("192.0.2.9"), t0 + Duration::from_millis(21))
            .is_err());
        assert_eq!(
            limiter.check(ip("192.0.2.0"), t0 + Duration::from_millis(22)),
            Ok(())
        );
    }
}
