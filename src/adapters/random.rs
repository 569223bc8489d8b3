//! Randomness: the operating system's generator. (The seeded one of the tests is in
//! `crate::testing`.)

use rand::seq::SliceRandom;
use rand::{Rng, RngCore};

use crate::ports::Random;

/// Thread-local CSPRNG seeded by the operating system.
pub struct OsRandom;

/// A version 4 UUID made of `bytes`, hyphenated lower-case.
pub(crate) fn uuid_from(bytes: [u8; 16]) -> String {
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
