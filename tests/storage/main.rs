//! The storage conformance suite, run against every storage adapter: the contract is the doc of
//! `pdd_server::ports::storage` (one trait per role, `Storage` their sum). `conformance/` holds
//! the cases, one file per role, and the macro that instantiates them; each adapter adds one
//! macro call (here, or in a module of its own).

use std::sync::Arc;

use pdd_server::adapters::storage::memory::MemoryStorage;
use pdd_server::ports::Storage;

#[macro_use]
mod conformance;
#[macro_use]
mod api_scenarios;

conformance_tests!(memory, || async {
    Arc::new(MemoryStorage::new()) as Arc<dyn Storage>
});

api_scenarios!(memory_api, || async {
    Arc::new(MemoryStorage::new()) as Arc<dyn Storage>
});

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
mod mysql_api;
