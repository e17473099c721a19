//! Hash maps with a seeded hasher.
//!
//! std's `RandomState` draws a new key in every process, which would make iteration order,
//! and so the order of outputs, differ between two runs of the same inputs. The engine's
//! maps hash with a key derived from the config seed instead: the same seed gives the same
//! bytes, and a server that picks a random seed at start-up still resists hash flooding.

use std::collections::{HashMap, HashSet};

use foldhash::fast::FixedState;

/// A hash map whose iteration order depends only on the seed and the operations applied.
pub type Map<K, V> = HashMap<K, V, FixedState>;
/// A hash set whose iteration order depends only on the seed and the operations applied.
pub type Set<T> = HashSet<T, FixedState>;

/// The hasher state every map of one broker shares.
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
        HashMap::with_hasher(FixedState::with_seed(self.0))
    }

    /// An empty set.
    pub fn set<T>(self) -> Set<T> {
        HashSet::with_hasher(FixedState::with_seed(self.0))
    }
}
