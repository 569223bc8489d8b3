//! Versioned schema: numbered SQL files embedded in the binary, applied in order at start-up and
//! recorded in `schema_version`. Version 1 is the previous server's schema, so a database it
//! created (tables, no version table) is upgraded in place by the same path as a fresh one.
//!
//! DDL auto-commits in MySQL, so a migration cannot be one transaction: each statement runs in
//! a transaction together with the record of its progress (`stepsDone`), and a restart resumes
//! after the last recorded statement. The statements are written to be safe to repeat, and the
//! first one run on resuming tolerates "already done" errors (a crash between a DDL statement
//! and its progress record would repeat it).

use std::collections::BTreeMap;

use num_bigint::BigUint;
use r2d2_mysql::mysql::prelude::Queryable;
use r2d2_mysql::mysql::{Conn, Error, Row, TxOpts, Value};
use tracing::{info, warn};

use super::codec;
use crate::domain::crypto;
use crate::domain::sketch::add_counts;

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "legacy_schema",
        sql: include_str!("../../../../migrations/001_legacy_schema.sql"),
    },
    Migration {
        version: 2,
        name: "utf8mb4_times_and_absent_values",
        sql: include_str!("../../../../migrations/002_utf8mb4_times_and_absent_values.sql"),
    },
    Migration {
        version: 3,
        name: "groups_running_sums",
        sql: include_str!("../../../../migrations/003_groups_running_sums.sql"),
    },
    Migration {
        version: 4,
        name: "job_ledger",
        sql: include_str!("../../../../migrations/004_job_ledger.sql"),
    },
    Migration {
        version: 5,
        name: "plausibility_and_release_threshold",
        sql: include_str!("../../../../migrations/005_plausibility_and_release_threshold.sql"),
    },
    Migration {
        version: 6,
        name: "console_history",
        sql: include_str!("../../../../migrations/006_console_history.sql"),
    },
];

/// The schema version a fresh start brings a database to.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Sql(String),
    /// A data conversion done in Rust (named in the file as `-- @step NAME`).
    Code(String),
}

/// Splits a migration file into steps: statements end with `;` at the end of a line; `--`
/// lines are comments, except `-- @step NAME`.
pub fn steps(sql: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("-- @step ") {
            out.push(Step::Code(name.trim().to_string()));
            continue;
        }
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let stmt = current.trim().trim_end_matches(';').trim().to_string();
            out.push(Step::Sql(stmt));
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(Step::Sql(current.trim().to_string()));
    }
    out
}

/// Server errors that mean a repeated DDL statement had already been applied.
const ALREADY_DONE: &[u16] = &[
    1050, // table exists
    1060, // duplicate column name
    1061, // duplicate key name
    1091, // can't drop: column or key does not exist
];

fn already_done(e: &Error) -> bool {
    matches!(e, Error::MySqlError(m) if ALREADY_DONE.contains(&m.code))
}

/// What `migrate` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub from_version: u32,
    pub to_version: u32,
    pub legacy: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Db(#[from] Error),
    #[error("{0}")]
    Other(String),
}

/// Brings the schema of the connection's database to the latest version. Serialised across
/// instances with a named lock, so two servers starting at once do not both migrate.
pub fn migrate(conn: &mut Conn, database: &str) -> Result<MigrationReport, MigrateError> {
    let lock = format!("pdd-migrate:{database}");
    let got: Option<i64> = conn.exec_first("SELECT GET_LOCK(?, 60)", (lock.as_str(),))?;
    if got != Some(1) {
        return Err(MigrateError::Other(
            "could not take the migration lock within 60 s".into(),
        ));
    }
    let result = migrate_locked(conn);
    let _ = conn.exec_drop("SELECT RELEASE_LOCK(?)", (lock.as_str(),));
    result
}

fn table_exists(conn: &mut Conn, table: &str) -> Result<bool, Error> {
    let n: Option<i64> = conn.exec_first(
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = ?",
        (table,),
    )?;
    Ok(n.unwrap_or(0) > 0)
}

fn migrate_locked(conn: &mut Conn) -> Result<MigrationReport, MigrateError> {
    let legacy = !table_exists(conn, "schema_version")? && table_exists(conn, "clients")?;
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS schema_version (
           version INT NOT NULL PRIMARY KEY,
           name VARCHAR(255) NOT NULL,
           stepsDone INT NOT NULL,
           appliedTime DATETIME(3) NULL
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    )?;
    let rows: Vec<(u32, u32, Option<Value>)> =
        conn.query("SELECT version, stepsDone, appliedTime FROM schema_version")?;
    let recorded: BTreeMap<u32, (u32, bool)> = rows
        .into_iter()
        .map(|(v, steps, applied)| (v, (steps, applied.is_some_and(|a| a != Value::NULL))))
        .collect();
    let from_version = recorded
        .iter()
        .filter(|(_, (_, done))| *done)
        .map(|(v, _)| *v)
        .max()
        .unwrap_or(0);
    if from_version > latest_version() {
        return Err(MigrateError::Other(format!(
            "the database schema is at version {from_version}, newer than this server knows \
             ({}): refusing to use it",
            latest_version()
        )));
    }
    if legacy {
        info!("database of the previous server found (no schema version): upgrading it in place");
    }
    for m in MIGRATIONS {
        let (done_steps, applied) = recorded.get(&m.version).copied().unwrap_or((0, false));
        if applied {
            continue;
        }
        let steps = steps(m.sql);
        if done_steps > 0 {
            warn!(
                version = m.version,
                step = done_steps,
                "resuming an interrupted migration"
            );
        }
        for (i, step) in steps.iter().enumerate().skip(done_steps as usize) {
            let first = i == done_steps as usize;
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let outcome = match step {
                Step::Sql(sql) => tx.query_drop(sql.as_str()).map_err(MigrateError::from),
                Step::Code(name) => run_code_step(&mut tx, name),
            };
            match outcome {
                Ok(()) => {}
                Err(MigrateError::Db(e)) if first && already_done(&e) => {
                    warn!(version = m.version, step = i, error = %e,
                          "statement had already been applied before an interruption");
                }
                Err(e) => {
                    let _ = tx.rollback();
                    return Err(MigrateError::Other(format!(
                        "migration {} ({}) step {}: {e}",
                        m.version, m.name, i
                    )));
                }
            }
            tx.exec_drop(
                "INSERT INTO schema_version (version, name, stepsDone) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE stepsDone = VALUES(stepsDone)",
                (m.version, m.name, (i + 1) as u32),
            )?;
            tx.commit()?;
        }
        conn.exec_drop(
            "INSERT INTO schema_version (version, name, stepsDone, appliedTime) \
             VALUES (?, ?, ?, UTC_TIMESTAMP(3)) \
             ON DUPLICATE KEY UPDATE stepsDone = VALUES(stepsDone), appliedTime = UTC_TIMESTAMP(3)",
            (m.version, m.name, steps.len() as u32),
        )?;
        info!(version = m.version, name = m.name, "migration applied");
    }
    Ok(MigrationReport {
        from_version,
        to_version: latest_version(),
        legacy,
    })
}

fn run_code_step<Q: Queryable>(q: &mut Q, name: &str) -> Result<(), MigrateError> {
    match name {
        "fold_legacy_sketches" => fold_legacy_sketches(q),
        other => Err(MigrateError::Other(format!(
            "unknown migration step {other}"
        ))),
    }
}

#[derive(Default)]
struct LegacyGroup {
    /// (client name, public key) of each member.
    members: Vec<(String, String)>,
    queries_count: u32,
    submitted: u32,
    encrypted: u32,
    sum: Vec<BigUint>,
}

/// Folds the old server's per-person sketch vectors into per-group running sums and per-day
/// raw sums, exactly as submissions are folded now, so days not yet aggregated keep what was
/// collected. A member whose encrypted values do not parse counts as submitted without them,
/// which leaves its group undecryptable rather than wrong. A day whose raw sum would not fit
/// 64 bits keeps no raw sum (never a clipped one). Runs in the step's transaction.
fn fold_legacy_sketches<Q: Queryable>(q: &mut Q) -> Result<(), MigrateError> {
    type Key = (String, i64, u32);
    let mut groups: BTreeMap<Key, LegacyGroup> = BTreeMap::new();
    // `None`: the day's raw values overflowed and are dropped.
    let mut raw: BTreeMap<(String, i64), Option<Vec<i64>>> = BTreeMap::new();
    // Skip when already folded (the per-person columns are gone).
    let has_vectors: Option<i64> = q.query_first(
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() \
         AND table_name = 'sketches' AND column_name = 'encryptedValues'",
    )?;
    if has_vectors.unwrap_or(0) == 0 {
        return Ok(());
    }
    let rows: Vec<Row> = q.query(
        "SELECT campaignName, day, `group`, clientName, publicKey, queriesCount, submitted, \
                encryptedValues, rawValues \
         FROM sketches ORDER BY campaignName, day, `group`, clientName",
    )?;
    for mut row in rows {
        let bad = |e: crate::ports::StorageError| MigrateError::Other(e.to_string());
        let campaign: String = codec::col(&mut row, 0).map_err(bad)?;
        let day: i64 = codec::col(&mut row, 1).map_err(bad)?;
        let group: i64 = codec::col(&mut row, 2).map_err(bad)?;
        let client: String = codec::col(&mut row, 3).map_err(bad)?;
        let key: Option<String> = codec::col(&mut row, 4).map_err(bad)?;
        let queries: Option<i64> = codec::col(&mut row, 5).map_err(bad)?;
        let submitted: Option<i64> = codec::col(&mut row, 6).map_err(bad)?;
        let encrypted: Option<String> = codec::col(&mut row, 7).map_err(bad)?;
        let raw_values: Option<String> = codec::col(&mut row, 8).map_err(bad)?;
        let g = groups
            .entry((campaign.clone(), day, u32::try_from(group).unwrap_or(0)))
            .or_default();
        g.members.push((client, key.unwrap_or_default()));
        g.queries_count = u32::try_from(queries.unwrap_or(0)).unwrap_or(0);
        if submitted.unwrap_or(0) == 0 {
            continue;
        }
        g.submitted += 1;
        let lines: Vec<&str> = encrypted
            .as_deref()
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let values: Option<Vec<BigUint>> = lines
            .iter()
            .map(|l| crypto::parse_decimal(l).map(|v| crypto::reduce(&v)))
            .collect();
        if let Some(values) = values.filter(|v| !v.is_empty()) {
            g.encrypted += 1;
            crypto::fold(&mut g.sum, &values);
        }
        if let Ok(counts) = codec::decode_counts(raw_values.as_deref().unwrap_or("")) {
            if !counts.is_empty() {
                let entry = raw
                    .entry((campaign, day))
                    .or_insert_with(|| Some(Vec::new()));
                if entry
                    .as_mut()
                    .is_some_and(|sum| add_counts(sum, &counts).is_err())
                {
                    *entry = None;
                }
            }
        }
    }
    let group_count = groups.len();
    let rows: Vec<Vec<Value>> = groups
        .into_iter()
        .map(|((campaign, day, id), mut g)| {
            g.members.sort();
            let keys: Vec<String> = g.members.into_iter().map(|(_, k)| k).collect();
            vec![
                campaign.into(),
                day.into(),
                id.into(),
                codec::encode_keys(&keys).into(),
                g.queries_count.into(),
                g.submitted.into(),
                g.encrypted.into(),
                codec::encode_sum(&g.sum).into(),
            ]
        })
        .collect();
    super::queries::insert_rows(
        q,
        "INSERT IGNORE INTO sketch_groups (campaignName, day, groupId, publicKeys, queriesCount, \
         submittedCount, encryptedCount, encryptedSum) VALUES ",
        8,
        rows,
    )?;
    let raw_rows: Vec<Vec<Value>> = raw
        .into_iter()
        .filter_map(|((campaign, day), sum)| match sum {
            Some(sum) => Some(vec![
                campaign.into(),
                day.into(),
                codec::encode_counts(&sum).into(),
            ]),
            None => {
                warn!(campaign = %campaign, day,
                      "legacy raw values of this day exceed 64 bits when added: not kept");
                None
            }
        })
        .collect();
    super::queries::insert_rows(
        q,
        "INSERT IGNORE INTO day_raw_sums (campaignName, day, rawValues) VALUES ",
        3,
        raw_rows,
    )?;
    info!(
        groups = group_count,
        "legacy sketches folded into group sums; their per-person vectors are dropped"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_split_statements_and_code_steps() {
        let sql =
            "-- a comment\nCREATE TABLE a (\n  x INT\n);\n\n-- @step fold_x\nUPDATE a SET x = 1;\n";
        assert_eq!(
            steps(sql),
            vec![
                Step::Sql("CREATE TABLE a (\n  x INT\n)".into()),
                Step::Code("fold_x".into()),
                Step::Sql("UPDATE a SET x = 1".into()),
            ]
        );
    }

    #[test]
    fn embedded_migrations_are_numbered_in_order_and_parse() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as u32 + 1);
            assert!(!steps(m.sql).is_empty(), "{}", m.name);
        }
        assert_eq!(latest_version(), MIGRATIONS.len() as u32);
    }
}
