//! Time as a parameter, so expiry and throttling tests can move it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The tests' clock: the real time plus an offset they move, or, once
/// pinned, a fixed instant that only moving changes (for checks to the
/// second: valid one second before an edge, refused at it).
#[derive(Clone)]
pub struct ShiftedClock {
    offset_secs: Arc<AtomicI64>,
    /// The pinned instant in Unix seconds, [`NOT_PINNED`] while it runs.
    pinned_at: Arc<AtomicI64>,
}

const NOT_PINNED: i64 = i64::MIN;

impl Default for ShiftedClock {
    fn default() -> Self {
        ShiftedClock {
            offset_secs: Arc::default(),
            pinned_at: Arc::new(AtomicI64::new(NOT_PINNED)),
        }
    }
}

impl ShiftedClock {
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }

    /// Stops the clock at the present whole second and returns it: from
    /// now on only [`ShiftedClock::advance`] moves it.
    pub fn pin(&self) -> OffsetDateTime {
        let at = OffsetDateTime::now_utc().unix_timestamp();
        self.pinned_at.store(at, Ordering::SeqCst);
        self.now()
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        let base = match self.pinned_at.load(Ordering::SeqCst) {
            NOT_PINNED => OffsetDateTime::now_utc(),
            at => OffsetDateTime::from_unix_timestamp(at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        };
        base + time::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }
}

/// "2026-11-23 11:52 UTC"
pub fn human(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Seconds until the oldest event in the window leaves it (at least 1),
/// rounded up: a retry at exactly that moment is allowed.
pub fn until_window_frees(oldest: Option<OffsetDateTime>, window_secs: i64, now: OffsetDateTime) -> u64 {
    let until = oldest.unwrap_or(now) + Duration::seconds(window_secs);
    (until - now).as_seconds_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_clock_moves_only_when_moved() {
        let clock = ShiftedClock::default();
        let at = clock.pin();
        assert_eq!(at.nanosecond(), 0, "a whole second");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(clock.now(), at);
        clock.advance(-1);
        assert_eq!(clock.now(), at - Duration::seconds(1));
    }

    #[test]
    fn the_wait_ends_when_the_oldest_event_leaves_the_window() {
        let now = OffsetDateTime::from_unix_timestamp(10_000).unwrap();
        let oldest = OffsetDateTime::from_unix_timestamp(10_000 - 3000).unwrap();
        assert_eq!(until_window_frees(Some(oldest), 3600, now), 600);
        assert_eq!(until_window_frees(None, 3600, now), 3600);
        let gone = OffsetDateTime::from_unix_timestamp(10_000 - 4000).unwrap();
        assert_eq!(until_window_frees(Some(gone), 3600, now), 1);
        let just_after = oldest + Duration::milliseconds(300);
        assert_eq!(until_window_frees(Some(just_after), 3600, now), 601);
    }
}
