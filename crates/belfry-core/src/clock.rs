//! Time as an input: the router and the backoff take `Instant`s from the
//! caller, so tests drive them on a controlled clock without sleeping.

use std::time::{Duration, Instant, SystemTime};

/// Detects that the machine slept: the wall clock moved much further than
/// the monotonic clock (which stops during suspend on Linux and macOS).
#[derive(Debug, Clone, Copy)]
pub struct SleepDetector {
    mono: Instant,
    wall: SystemTime,
    threshold: Duration,
}

impl SleepDetector {
    /// A detector that reports gaps larger than `threshold`.
    pub fn new(threshold: Duration) -> Self {
        Self {
            mono: Instant::now(),
            wall: SystemTime::now(),
            threshold,
        }
    }

    /// Call on every timer tick; true when a sleep happened since the last call.
    pub fn check(&mut self) -> bool {
        self.observe(Instant::now(), SystemTime::now())
    }

    /// [`SleepDetector::check`] with the clocks given (for tests).
    pub fn observe(&mut self, mono: Instant, wall: SystemTime) -> bool {
        let mono_gap = mono.saturating_duration_since(self.mono);
        let wall_gap = wall.duration_since(self.wall).unwrap_or_default();
        self.mono = mono;
        self.wall = wall;
        // Either clock may show the gap: the wall clock when the monotonic one
        // stopped during suspend, the monotonic one when the process was
        // frozen (SIGSTOP) or the tick was simply very late.
        wall_gap.saturating_sub(mono_gap) > self.threshold || mono_gap > self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_jump_is_a_sleep_and_a_normal_tick_is_not() {
        let mono = Instant::now();
        let wall = SystemTime::now();
        let mut d = SleepDetector {
            mono,
            wall,
            threshold: Duration::from_secs(20),
        };
        assert!(!d.observe(mono + Duration::from_secs(5), wall + Duration::from_secs(5)));
        assert!(d.observe(
            mono + Duration::from_secs(10),
            wall + Duration::from_secs(600)
        ));
        assert!(!d.observe(
            mono + Duration::from_secs(15),
            wall + Duration::from_secs(605)
        ));
        assert!(d.observe(
            mono + Duration::from_secs(60),
            wall + Duration::from_secs(650)
        ));
    }
}
