//! Virtual time that follows real time: the simulator's clock and a recording's
//! playback run on the same one (play, pause, speed).

/// The most real time one frame may turn into virtual time. A tab that was hidden for a
/// minute would otherwise fast-forward a minute of simulation in a single frame.
pub const MAX_FRAME_MS: f64 = 100.0;

/// Whether virtual time runs, how fast, and the fraction of a millisecond not yet spent.
#[derive(Clone, Debug, PartialEq)]
pub struct Clock {
    /// Whether virtual time follows real time.
    pub playing: bool,
    /// Virtual milliseconds per real millisecond.
    pub speed: f64,
    /// Fractions of a virtual millisecond not yet applied.
    carry: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            playing: true,
            speed: 1.0,
            carry: 0.0,
        }
    }
}

impl Clock {
    /// Real time passed: the whole virtual milliseconds `real_ms` makes, 0 while paused.
    pub fn tick(&mut self, real_ms: f64) -> u64 {
        if !self.playing || !real_ms.is_finite() || real_ms <= 0.0 {
            return 0;
        }
        self.carry += real_ms.min(MAX_FRAME_MS) * self.speed;
        let whole = self.carry.floor();
        self.carry -= whole;
        whole as u64
    }

    /// Forgets the fraction carried: the clock starts afresh with a new world.
    pub fn restart(&mut self) {
        self.carry = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_carry_over_and_a_long_frame_is_clamped() {
        let mut c = Clock {
            speed: 0.5,
            ..Clock::default()
        };
        assert_eq!(c.tick(3.0), 1);
        assert_eq!(c.tick(1.0), 1, "the half millisecond carried");
        assert_eq!(c.tick(60_000.0), 50);
        c.playing = false;
        assert_eq!(c.tick(16.0), 0);
    }
}
