//! A seeded random source, for reproducible tests.

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};

use crate::adapters::random::uuid_from;
use crate::ports::Random;

/// A seeded generator: the same seed gives the same shuffles and names.
pub struct SeededRandom(Mutex<StdRng>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom(Mutex::new(StdRng::seed_from_u64(seed)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        f(&mut self.0.lock())
    }
}

impl Random for SeededRandom {
    fn shuffle(&self, items: &mut [String]) {
        self.with(|r| items.shuffle(r))
    }

    fn chance(&self, p: f64) -> bool {
        self.with(|r| r.gen_bool(p.clamp(0.0, 1.0)))
    }

    fn below(&self, n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            self.with(|r| r.gen_range(0..n))
        }
    }

    fn uuid(&self) -> String {
        self.with(|r| {
            let mut bytes = [0u8; 16];
            r.fill_bytes(&mut bytes);
            uuid_from(bytes)
        })
    }
}
