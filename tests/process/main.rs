//! Whole-process tests of the built binary.

mod adapters;
mod docs;
