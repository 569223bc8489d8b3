//! Storage tests: the MySQL adapter against a real MariaDB.

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
mod mysql_support;
