//! The SQL of every storage operation, blocking, on one connection, with each role's
//! implementation in its own file. Every statement is parameterised and counted; transactions
//! are retried on deadlock.

mod aggregations;
mod campaigns;
mod client_days;
mod clients;
mod jobs;
mod ping;
mod sketches;

pub use ping::{ActivityWriter, KeyCache};

use std::sync::atomic::{AtomicU64, Ordering};

use r2d2_mysql::mysql::prelude::{FromRow, Queryable};
use r2d2_mysql::mysql::{Conn, Error, Params, Row, Transaction, TxOpts, Value};

use crate::ports::{StorageError, StorageResult};

/// Rows per multi-row INSERT (well under the 65,535 placeholders of a prepared statement).
pub const BATCH_ROWS: usize = 1000;
const DEADLOCK: u16 = 1213;
const DEADLOCK_ATTEMPTS: usize = 4;

/// Server errors that mean "cannot reach or use the database right now".
const UNAVAILABLE: &[u16] = &[
    1040, // too many connections
    1044, // access denied to database
    1045, // access denied
    1049, // unknown database
    1053, // server shutdown in progress
    1205, // lock wait timeout
    1317, // query interrupted
    1927, // connection killed
    1969, // statement timeout (MariaDB)
    3024, // statement timeout (MySQL)
];

/// Maps a driver error: duplicate key → `AlreadyExists`; connectivity, timeouts and server
/// unavailability → `Unavailable`; anything else → `Failure`.
pub fn map_error(e: Error) -> StorageError {
    match &e {
        Error::MySqlError(m) if m.code == 1062 => StorageError::AlreadyExists,
        Error::MySqlError(m) if UNAVAILABLE.contains(&m.code) || m.code == DEADLOCK => {
            StorageError::Unavailable(m.to_string())
        }
        e if e.is_connectivity_error() => StorageError::Unavailable(e.to_string()),
        e => StorageError::Failure(e.to_string()),
    }
}

fn is_deadlock(e: &StorageError, raw: &Option<u16>) -> bool {
    matches!(e, StorageError::Unavailable(_)) && *raw == Some(DEADLOCK)
}

/// A connection (or transaction) that counts the statements it sends.
pub struct Db<'a, Q: Queryable> {
    q: &'a mut Q,
    count: &'a AtomicU64,
    /// Code of the last server error seen, to tell deadlocks apart.
    last_code: Option<u16>,
}

impl<'a, Q: Queryable> Db<'a, Q> {
    pub fn new(q: &'a mut Q, count: &'a AtomicU64) -> Self {
        Db {
            q,
            count,
            last_code: None,
        }
    }

    fn fail(&mut self, e: Error) -> StorageError {
        if let Error::MySqlError(m) = &e {
            self.last_code = Some(m.code);
        }
        map_error(e)
    }

    /// Runs a statement; returns the number of rows it matched or changed.
    pub fn run(&mut self, sql: &str, params: Vec<Value>) -> StorageResult<u64> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let result = self
            .q
            .exec_iter(sql, params_of(params))
            .map(|r| r.affected_rows());
        result.map_err(|e| self.fail(e))
    }

    pub fn rows<T: FromRow>(&mut self, sql: &str, params: Vec<Value>) -> StorageResult<Vec<T>> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let result = self.q.exec(sql, params_of(params));
        result.map_err(|e| self.fail(e))
    }

    pub fn first<T: FromRow>(&mut self, sql: &str, params: Vec<Value>) -> StorageResult<Option<T>> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let result = self.q.exec_first(sql, params_of(params));
        result.map_err(|e| self.fail(e))
    }

    /// One multi-row INSERT per `BATCH_ROWS` rows of `width` values each.
    pub fn insert_rows(
        &mut self,
        head: &str,
        width: usize,
        rows: Vec<Vec<Value>>,
    ) -> StorageResult<u64> {
        let batches = rows.len().div_ceil(BATCH_ROWS) as u64;
        self.count.fetch_add(batches, Ordering::Relaxed);
        let result = insert_rows(self.q, head, width, rows);
        result.map_err(|e| self.fail(e))
    }
}

impl<'a> Db<'a, Conn> {
    /// The server's `Questions` counter for this session (this statement not included).
    pub fn session_questions(&mut self) -> StorageResult<u64> {
        let row: Option<(String, u64)> = self
            .q
            .query_first("SHOW SESSION STATUS LIKE 'Questions'")
            .map_err(map_error)?;
        row.map(|(_, n)| n.saturating_sub(1))
            .ok_or_else(|| StorageError::Failure("no Questions status".into()))
    }

    /// Runs `f` in a transaction, committed when it returns `Ok` and rolled back otherwise;
    /// retried from the start on deadlock.
    pub fn transaction<T>(
        &mut self,
        mut f: impl FnMut(&mut Db<'_, Transaction<'_>>) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.count.fetch_add(1, Ordering::Relaxed);
            let mut tx = self
                .q
                .start_transaction(TxOpts::default())
                .map_err(map_error)?;
            let mut db = Db::new(&mut tx, self.count);
            let result = f(&mut db);
            let code = db.last_code;
            self.count.fetch_add(1, Ordering::Relaxed);
            match result {
                Ok(v) => {
                    tx.commit().map_err(map_error)?;
                    return Ok(v);
                }
                Err(e) => {
                    // A failed rollback means a broken connection, which the pool discards.
                    let _ = tx.rollback();
                    if is_deadlock(&e, &code) && attempt < DEADLOCK_ATTEMPTS {
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }
}

fn params_of(values: Vec<Value>) -> Params {
    if values.is_empty() {
        Params::Empty
    } else {
        Params::Positional(values)
    }
}

/// `(?, ?, …), (?, ?, …)` for `rows` rows of `width` placeholders.
fn placeholders(rows: usize, width: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; rows].join(", ")
}

fn in_list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Inserts `rows` (each `width` values) with multi-row INSERTs starting with `head`
/// (`INSERT INTO t (a, b) VALUES `). Returns the rows affected.
pub fn insert_rows<Q: Queryable>(
    q: &mut Q,
    head: &str,
    width: usize,
    rows: Vec<Vec<Value>>,
) -> Result<u64, Error> {
    let mut affected = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<Vec<Value>> = rows.by_ref().take(BATCH_ROWS).collect();
        let sql = format!("{head}{}", placeholders(batch.len(), width));
        let params: Vec<Value> = batch.into_iter().flatten().collect();
        affected += q
            .exec_iter(sql, Params::Positional(params))?
            .affected_rows();
    }
    Ok(affected)
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn opt(v: &Option<String>) -> Value {
    v.as_deref().map_or(Value::NULL, Value::from)
}

fn all<T>(rows: Vec<Row>, f: impl Fn(Row) -> StorageResult<T>) -> StorageResult<Vec<T>> {
    rows.into_iter().map(f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use r2d2_mysql::mysql::error::MySqlError;

    fn server_error(code: u16) -> Error {
        Error::MySqlError(MySqlError {
            state: "HY000".into(),
            message: format!("error {code}"),
            code,
        })
    }

    #[test]
    fn duplicate_keys_are_already_exists_outages_unavailable_the_rest_failures() {
        assert_eq!(map_error(server_error(1062)), StorageError::AlreadyExists);
        for code in [1040, 1045, 1049, 1053, 1205, 1213, 1927, 1969] {
            assert!(
                matches!(map_error(server_error(code)), StorageError::Unavailable(_)),
                "{code}"
            );
        }
        let io = Error::IoError(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ));
        assert!(matches!(map_error(io), StorageError::Unavailable(_)));
        for code in [1064, 1146, 1406] {
            assert!(
                matches!(map_error(server_error(code)), StorageError::Failure(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn placeholders_cover_every_row_and_column() {
        assert_eq!(placeholders(2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(in_list(3), "?, ?, ?");
    }
}
