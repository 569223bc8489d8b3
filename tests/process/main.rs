//! Whole-process tests: the built `pdd-server` binary started on free loopback ports, talked to
//! over HTTP, and stopped with signals.

#[cfg(feature = "mysql")]
mod crash;
mod flags;
mod hostile;
mod in_process;
mod limits;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
mod mysql_faults;
mod protocol;
mod server;
mod shutdown;

// Adapters and deployment (Docker, docs/deploying.md).
mod adapters;
mod api_examples;
mod docs;
