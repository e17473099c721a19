//! Hash maps with a seeded hasher that gives the same hashes on every target.
//!
//! std's `RandomState` draws a new key in every process, which would make iteration order,
//! and so the order of outputs, differ between two runs of the same inputs. The engine's
//! maps hash with a key derived from the config seed instead: the same seed gives the same
//! bytes, and a server that picks a random seed at start-up still resists hash flooding.
//!
//! The hasher is the engine's own because the same inputs must also give the same bytes
//! in the browser (wasm32) as on the server (64-bit): general-purpose fast hashers, such as
//! foldhash, take cheaper and different paths on 32-bit targets, so a map's iteration order
//! (and with it, for example, the order in which one PUBLISH reaches its subscribers)
//! would differ between the simulator and `brokerlab serve`, and a server's recording would
//! not replay in the page. Every integer is hashed as 64 bits, `usize` included, and the
//! mixing is a 64 by 64 to 128-bit folded multiply, which Rust computes identically
//! everywhere.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// A hash map whose iteration order depends only on the seed and the operations applied.
pub type Map<K, V> = HashMap<K, V, Hashing>;
/// A hash set whose iteration order depends only on the seed and the operations applied.
pub type Set<T> = HashSet<T, Hashing>;

/// Odd constants with well-spread bits (from the digits of pi), so that a seed of zero
/// still mixes.
const PI: [u64; 3] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
];

/// The hasher state every map of one broker shares: its key.
#[derive(Clone, Copy, Debug)]
pub struct Hashing(u64);

impl Hashing {
    /// A hasher keyed by `seed`.
    pub fn new(seed: u64) -> Self {
        // Mixing the seed keeps the hash key from being the config seed itself, which a
        // client can learn from the simulator's shared URLs.
        Hashing(seed ^ 0x6D71_7474_2D62_726B)
    }

    /// An empty map.
    pub fn map<K, V>(self) -> Map<K, V> {
        HashMap::with_hasher(self)
    }

    /// An empty set.
    pub fn set<T>(self) -> Set<T> {
        HashSet::with_hasher(self)
    }
}

impl BuildHasher for Hashing {
    type Hasher = SeededHasher;

    fn build_hasher(&self) -> SeededHasher {
        SeededHasher {
            acc: self.0 ^ PI[0],
            key: self.0.rotate_left(23) ^ PI[1],
            sponge: 0,
            sponge_bits: 0,
        }
    }
}

/// The hasher of [`Hashing`]: the same hash for the same key and input on every target.
///
/// After foldhash's design: integers are gathered in a 128-bit sponge and folded in only
/// when it is full or at the end, so a key of up to two 64-bit integers costs two
/// multiplies; bytes are folded in 16 at a time.
#[derive(Clone, Debug)]
pub struct SeededHasher {
    acc: u64,
    key: u64,
    sponge: u128,
    sponge_bits: u32,
}

/// The high and low halves of the 128-bit product, folded together: small changes in
/// either factor change every bit of the result.
#[inline(always)]
fn fold(x: u64, y: u64) -> u64 {
    let full = u128::from(x).wrapping_mul(u128::from(y));
    (full as u64) ^ ((full >> 64) as u64)
}

impl SeededHasher {
    /// Folds two words into the accumulator.
    #[inline(always)]
    fn mix(&mut self, lo: u64, hi: u64) {
        self.acc = fold(lo ^ self.acc, hi ^ self.key);
    }

    /// Adds an integer of `bits` bits to the sponge, folding the sponge in first if it
    /// has no room.
    #[inline(always)]
    fn absorb(&mut self, value: u64, bits: u32) {
        if self.sponge_bits + bits > 128 {
            let (lo, hi) = (self.sponge as u64, (self.sponge >> 64) as u64);
            self.mix(lo, hi);
            self.sponge = 0;
            self.sponge_bits = 0;
        }
        self.sponge |= u128::from(value) << self.sponge_bits;
        self.sponge_bits += bits;
    }
}

impl Hasher for SeededHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(16);
        for chunk in &mut chunks {
            let mut words = [0; 16];
            words.copy_from_slice(chunk);
            let both = u128::from_le_bytes(words);
            self.mix(both as u64, (both >> 64) as u64);
        }
        let rest = chunks.remainder();
        let mut words = [0; 16];
        words[..rest.len()].copy_from_slice(rest);
        let both = u128::from_le_bytes(words);
        // The length goes in with the last words, so "a" and "a\0" differ.
        let len = (bytes.len() as u64).rotate_right(8);
        self.mix(both as u64, ((both >> 64) as u64) ^ len);
    }

    fn write_u8(&mut self, i: u8) {
        self.absorb(u64::from(i), 8);
    }

    fn write_u16(&mut self, i: u16) {
        self.absorb(u64::from(i), 16);
    }

    fn write_u32(&mut self, i: u32) {
        self.absorb(u64::from(i), 32);
    }

    fn write_u64(&mut self, i: u64) {
        self.absorb(i, 64);
    }

    fn write_usize(&mut self, i: usize) {
        // 64 bits on every target, so lengths and enum discriminants hash alike.
        self.absorb(i as u64, 64);
    }

    fn write_isize(&mut self, i: isize) {
        self.absorb(i as i64 as u64, 64);
    }

    fn finish(&self) -> u64 {
        let mut acc = self.acc;
        if self.sponge_bits > 0 {
            let (lo, hi) = (self.sponge as u64, (self.sponge >> 64) as u64);
            acc = fold(lo ^ acc, hi ^ self.key);
        }
        // One more fold with another key: without it, keys that differ only in a few low
        // bits (consecutive session numbers) crowd into fewer buckets than chance would.
        fold(acc, self.key.rotate_left(17) ^ PI[2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hashes `Hashing::new(1)` gives `"client-7"`, `42u32` and `(7usize, Some("a/b"))`:
    /// the contract between targets, which wasm/tests/browser.rs checks in the browser.
    const GOLDEN: [u64; 3] = [
        0xad7f_d486_1668_ca74,
        0x6da0_b72c_91a0_341f,
        0x2c34_0abe_f842_02be,
    ];

    #[test]
    fn the_same_seed_and_input_give_these_hashes() {
        let h = Hashing::new(1);
        assert_eq!(h.hash_one("client-7"), GOLDEN[0]);
        assert_eq!(h.hash_one(42u32), GOLDEN[1]);
        assert_eq!(h.hash_one((7usize, Some("a/b"))), GOLDEN[2]);
        assert_ne!(Hashing::new(2).hash_one("client-7"), GOLDEN[0]);
    }

    #[test]
    fn nearby_inputs_spread_over_the_buckets() {
        let h = Hashing::new(0);
        let mut low_bits = std::collections::BTreeSet::new();
        for i in 0..1024u32 {
            low_bits.insert(h.hash_one(i) & 1023);
        }
        // 1024 balls in 1024 bins leave about 1 - 1/e of them filled.
        assert!(
            low_bits.len() > 550,
            "{} of 1024 buckets used",
            low_bits.len()
        );
    }
}
