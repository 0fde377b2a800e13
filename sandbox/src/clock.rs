//! The sandbox's clock: the real time plus an offset that tests and the
//! admin API can move forward, so that expiries (assertions, consultation
//! grants, tickets, letters) can be exercised over HTTP without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

/// A shared clock. Cloning shares the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    /// The real time.
    pub fn new() -> Self {
        Clock::default()
    }

    /// Now, as the sandbox sees it.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Moves the sandbox's time forward (never backward: expiries already
    /// reached stay reached).
    pub fn advance(&self, by: Duration) {
        let seconds = by.whole_seconds().max(0);
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }

    /// How far the sandbox's time is ahead of the real time.
    pub fn offset(&self) -> Duration {
        Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone_and_never_goes_back() {
        let clock = Clock::new();
        let other = clock.clone();
        clock.advance(Duration::hours(5));
        assert!(other.now() - OffsetDateTime::now_utc() > Duration::hours(4));
        clock.advance(Duration::hours(-3));
        assert_eq!(other.offset(), Duration::hours(5));
    }
}
