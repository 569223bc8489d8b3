//! Randomness: the operating system's generator, or a seeded one for reproducible tests.

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};

use crate::ports::Random;

/// Thread-local CSPRNG seeded by the operating system.
pub struct OsRandom;

fn uuid_from(bytes: [u8; 16]) -> String {
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

impl Random for OsRandom {
    fn shuffle(&self, items: &mut [String]) {
        items.shuffle(&mut rand::thread_rng());
    }

    fn chance(&self, p: f64) -> bool {
        rand::thread_rng().gen_bool(p.clamp(0.0, 1.0))
    }

    fn below(&self, n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..n)
        }
    }

    fn uuid(&self) -> String {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        uuid_from(bytes)
    }
}

/// A seeded generator: the same seed gives the same shuffles and names.
pub struct SeededRandom(Mutex<StdRng>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom(Mutex::new(StdRng::seed_from_u64(seed)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
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
