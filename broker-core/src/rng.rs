//! The engine's only source of randomness: a small generator seeded from the config.
//!
//! SplitMix64 is written out here rather than taken from a crate because the whole point
//! is that its output is fixed forever, on every target: a recorded session must replay
//! exactly, including the client ids the broker assigns and (in the aws-iot profile) the
//! duplicates and reorderings it injects. Its statistical quality is ample for that.

/// A deterministic pseudo-random generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1), uniformly.
    pub fn next_f64(&mut self) -> f64 {
        // 53 random bits give every representable step in [0, 1).
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (clamped to 0..=1). A probability of zero never draws,
    /// so switching a random rule off leaves the rest of the sequence unchanged.
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        self.next_f64() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn known_first_value_is_stable_across_targets() {
        // Pinning the first output guards against an accidental change of algorithm,
        // which would silently break every recorded simulator trace.
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn zero_probability_never_draws() {
        let mut a = Rng::new(3);
        let mut b = Rng::new(3);
        assert!(!a.chance(0.0));
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
