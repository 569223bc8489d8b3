//! Test doubles for the tests and benches (cargo feature `test-util`, which they enable through
//! a dev-dependency of the crate on itself): never part of a release build.

mod clock;
mod random;

pub use clock::ManualClock;
pub use random::SeededRandom;
