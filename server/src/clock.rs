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

/// A clock that stands still until moved: the real time plus an offset.
#[derive(Clone, Default)]
pub struct ShiftedClock {
    offset_secs: Arc<AtomicI64>,
}

impl ShiftedClock {
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
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
