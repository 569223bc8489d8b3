//! The SQL of every storage operation, blocking, on one connection. Every statement is
//! parameterised and counted; transactions are retried on deadlock.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use r2d2_mysql::mysql::prelude::{FromRow, Queryable};
use r2d2_mysql::mysql::{Conn, Error, Params, Row, Transaction, TxOpts, Value};

use super::codec::{self, col, opt_time_col, time_col, time_value};
use crate::domain::campaign::Campaign;
use crate::domain::client::{Activity, Client, ClientDetails};
use crate::domain::crypto;
use crate::domain::sketch::{
    add_counts, Aggregation, Group, OpenSketch, Sketch, Stats, Submission,
};
use crate::domain::time::Day;
use crate::ports::storage::{ClientCursor, DaySketches, SubmitOutcome};
use crate::ports::{StorageError, StorageResult};

/// Rows per multi-row INSERT (well under the 65,535 placeholders of a prepared statement).
pub const BATCH_ROWS: usize = 1000;
/// Names per `IN (…)` list.
const IN_BATCH: usize = 1000;
/// Rows per DELETE of old activity, so no delete holds locks for long.
const DELETE_BATCH: usize = 10_000;
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

// ---- row decoding

const CAMPAIGN_COLUMNS: &str = "name, createTime, displayName, email, notes, vocabulary, \
     startTime, endTime, delay, graceDelay, groupSize, samplingRate, collectEncrypted, collectRaw";

fn campaign_of(mut r: Row) -> StorageResult<Campaign> {
    Ok(Campaign {
        name: col(&mut r, 0)?,
        create_time: time_col(&mut r, 1)?,
        display_name: col(&mut r, 2)?,
        email: col(&mut r, 3)?,
        notes: col(&mut r, 4)?,
        vocabulary: codec::decode_vocabulary(&col::<String>(&mut r, 5)?),
        start_time: opt_time_col(&mut r, 6)?,
        end_time: opt_time_col(&mut r, 7)?,
        delay: col(&mut r, 8)?,
        grace_delay: col(&mut r, 9)?,
        group_size: col(&mut r, 10)?,
        sampling_rate: col(&mut r, 11)?,
        collect_encrypted: col(&mut r, 12)?,
        collect_raw: col(&mut r, 13)?,
    })
}

fn campaign_params(c: &Campaign) -> Vec<Value> {
    vec![
        time_value(c.create_time),
        s(&c.display_name),
        opt(&c.email),
        opt(&c.notes),
        s(&codec::encode_vocabulary(&c.vocabulary)),
        codec::opt_time_value(c.start_time),
        codec::opt_time_value(c.end_time),
        c.delay.into(),
        c.grace_delay.into(),
        c.group_size.into(),
        c.sampling_rate.map_or(Value::NULL, Value::from),
        c.collect_encrypted.into(),
        c.collect_raw.into(),
        s(&c.name),
    ]
}

const CLIENT_COLUMNS: &str = "name, createTime, publicKey, browser, externalName";

fn client_of(mut r: Row) -> StorageResult<Client> {
    Ok(Client {
        name: col(&mut r, 0)?,
        create_time: time_col(&mut r, 1)?,
        public_key: col(&mut r, 2)?,
        browser: col(&mut r, 3)?,
        external_name: col(&mut r, 4)?,
    })
}

const ACTIVITY_COLUMNS: &str = "clientName, time, countryCode, extensionVersion, timezone";

fn activity_of(mut r: Row) -> StorageResult<Activity> {
    Ok(Activity {
        client_name: col(&mut r, 0)?,
        time: time_col(&mut r, 1)?,
        country_code: col(&mut r, 2)?,
        extension_version: col(&mut r, 3)?,
        timezone: col(&mut r, 4)?,
    })
}

const SKETCH_COLUMNS: &str =
    "s.name, s.createTime, s.clientName, s.campaignName, s.day, s.`group`, s.queriesCount, s.submitted";

fn sketch_of(r: &mut Row) -> StorageResult<Sketch> {
    Ok(Sketch {
        name: col(r, 0)?,
        create_time: time_col(r, 1)?,
        client_name: col(r, 2)?,
        campaign_name: col(r, 3)?,
        day: col(r, 4)?,
        group: col(r, 5)?,
        queries_count: col(r, 6)?,
        submitted: col(r, 7)?,
    })
}

const GROUP_COLUMNS: &str = "campaignName, day, groupId, publicKeys, queriesCount, \
     submittedCount, encryptedCount, encryptedSum";

fn group_of(mut r: Row) -> StorageResult<Group> {
    Ok(Group {
        campaign_name: col(&mut r, 0)?,
        day: col(&mut r, 1)?,
        group: col(&mut r, 2)?,
        public_keys: codec::decode_keys(&col::<String>(&mut r, 3)?)?,
        queries_count: col(&mut r, 4)?,
        submitted: col(&mut r, 5)?,
        encrypted: col(&mut r, 6)?,
        sum: codec::decode_sum(&col::<String>(&mut r, 7)?)?,
    })
}

const AGGREGATION_COLUMNS: &str =
    "campaignName, day, activeCount, submittedCount, decryptedCount, decryptedValues, rawValues";

fn aggregation_of(mut r: Row) -> StorageResult<Aggregation> {
    Ok(Aggregation {
        campaign_name: col(&mut r, 0)?,
        day: col(&mut r, 1)?,
        stats: Stats {
            active_count: col(&mut r, 2)?,
            submitted_count: col(&mut r, 3)?,
            decrypted_count: col(&mut r, 4)?,
        },
        decrypted_values: codec::decode_counts(&col::<String>(&mut r, 5)?)?,
        raw_values: codec::decode_counts(&col::<String>(&mut r, 6)?)?,
    })
}

fn all<T>(rows: Vec<Row>, f: impl Fn(Row) -> StorageResult<T>) -> StorageResult<Vec<T>> {
    rows.into_iter().map(f).collect()
}

// ---- campaigns

pub fn create_campaign(db: &mut Db<Conn>, c: &Campaign) -> StorageResult<()> {
    db.run(
        &format!(
            "INSERT INTO campaigns (createTime, displayName, email, notes, vocabulary, startTime, \
             endTime, delay, graceDelay, groupSize, samplingRate, collectEncrypted, collectRaw, \
             name) VALUES ({})",
            in_list(14)
        ),
        campaign_params(c),
    )?;
    Ok(())
}

pub fn get_campaign(db: &mut Db<Conn>, name: &str) -> StorageResult<Option<Campaign>> {
    db.first::<Row>(
        &format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE name = ?"),
        vec![s(name)],
    )?
    .map(campaign_of)
    .transpose()
}

pub fn list_campaigns(db: &mut Db<Conn>) -> StorageResult<Vec<Campaign>> {
    let rows = db.rows(
        &format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns ORDER BY createTime DESC, name"),
        vec![],
    )?;
    all(rows, campaign_of)
}

pub fn replace_campaign(db: &mut Db<Conn>, c: &Campaign) -> StorageResult<()> {
    let n = db.run(
        "UPDATE campaigns SET createTime = ?, displayName = ?, email = ?, notes = ?, \
         vocabulary = ?, startTime = ?, endTime = ?, delay = ?, graceDelay = ?, groupSize = ?, \
         samplingRate = ?, collectEncrypted = ?, collectRaw = ? WHERE name = ?",
        campaign_params(c),
    )?;
    if n == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

pub fn delete_campaign(db: &mut Db<Conn>, name: &str) -> StorageResult<()> {
    db.transaction(|tx| {
        if tx.run("DELETE FROM campaigns WHERE name = ?", vec![s(name)])? == 0 {
            return Err(StorageError::NotFound);
        }
        for table in ["aggregations", "sketches", "sketch_groups", "day_raw_sums"] {
            tx.run(
                &format!("DELETE FROM {table} WHERE campaignName = ?"),
                vec![s(name)],
            )?;
        }
        Ok(())
    })
}

// ---- clients and activity

pub fn create_client(db: &mut Db<Conn>, c: &Client) -> StorageResult<()> {
    db.run(
        "INSERT INTO clients (name, createTime, publicKey, browser, externalName) \
         VALUES (?, ?, ?, ?, ?)",
        vec![
            s(&c.name),
            time_value(c.create_time),
            s(&c.public_key),
            s(&c.browser),
            opt(&c.external_name),
        ],
    )?;
    Ok(())
}

pub fn get_client(db: &mut Db<Conn>, name: &str) -> StorageResult<Option<ClientDetails>> {
    let Some(row) = db.first::<Row>(
        &format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE name = ?"),
        vec![s(name)],
    )?
    else {
        return Ok(None);
    };
    let client = client_of(row)?;
    let latest = db
        .first::<Row>(
            &format!(
                "SELECT {ACTIVITY_COLUMNS} FROM activity WHERE clientName = ? \
                 ORDER BY time DESC, unused_id DESC LIMIT 1"
            ),
            vec![s(name)],
        )?
        .map(activity_of)
        .transpose()?;
    Ok(Some(ClientDetails {
        client,
        latest_activity: latest,
    }))
}

pub fn replace_client(db: &mut Db<Conn>, c: &Client) -> StorageResult<()> {
    let n = db.run(
        "UPDATE clients SET createTime = ?, publicKey = ?, browser = ?, externalName = ? \
         WHERE name = ?",
        vec![
            time_value(c.create_time),
            s(&c.public_key),
            s(&c.browser),
            opt(&c.external_name),
            s(&c.name),
        ],
    )?;
    if n == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

pub fn delete_client(db: &mut Db<Conn>, name: &str) -> StorageResult<()> {
    db.transaction(|tx| {
        if tx.run("DELETE FROM clients WHERE name = ?", vec![s(name)])? == 0 {
            return Err(StorageError::NotFound);
        }
        tx.run("DELETE FROM activity WHERE clientName = ?", vec![s(name)])?;
        Ok(())
    })
}

pub fn list_clients(
    db: &mut Db<Conn>,
    limit: usize,
    after: Option<&ClientCursor>,
) -> StorageResult<Vec<Client>> {
    let limit = Value::from(limit as u64);
    let rows = match after {
        None => db.rows(
            &format!(
                "SELECT {CLIENT_COLUMNS} FROM clients ORDER BY createTime DESC, name DESC LIMIT ?"
            ),
            vec![limit],
        )?,
        Some(c) => db.rows(
            &format!(
                "SELECT {CLIENT_COLUMNS} FROM clients \
                 WHERE createTime < ? OR (createTime = ? AND name < ?) \
                 ORDER BY createTime DESC, name DESC LIMIT ?"
            ),
            vec![
                time_value(c.create_time),
                time_value(c.create_time),
                s(&c.name),
                limit,
            ],
        )?,
    };
    all(rows, client_of)
}

pub fn count_clients(db: &mut Db<Conn>) -> StorageResult<u64> {
    Ok(db
        .first::<u64>("SELECT COUNT(*) FROM clients", vec![])?
        .unwrap_or(0))
}

pub fn list_activity(
    db: &mut Db<Conn>,
    client: Option<&str>,
    since: Option<DateTime<Utc>>,
) -> StorageResult<Vec<Activity>> {
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    if let Some(c) = client {
        conditions.push("clientName = ?");
        params.push(s(c));
    }
    if let Some(t) = since {
        conditions.push("time >= ?");
        params.push(time_value(t));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let rows = db.rows(
        &format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activity {filter} \
             ORDER BY time, clientName, unused_id"
        ),
        params,
    )?;
    all(rows, activity_of)
}

pub fn active_clients(
    db: &mut Db<Conn>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StorageResult<Vec<Client>> {
    let rows = db.rows(
        "SELECT c.name, c.createTime, c.publicKey, c.browser, c.externalName \
         FROM (SELECT DISTINCT clientName FROM activity WHERE time >= ? AND time < ?) a \
         JOIN clients c ON c.name = a.clientName ORDER BY c.name",
        vec![time_value(from), time_value(to)],
    )?;
    all(rows, client_of)
}

pub fn activity_times(
    db: &mut Db<Conn>,
    clients: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StorageResult<Vec<(String, DateTime<Utc>)>> {
    let mut out = Vec::new();
    for chunk in clients.chunks(IN_BATCH) {
        let mut params: Vec<Value> = chunk.iter().map(|c| s(c)).collect();
        params.push(time_value(from));
        params.push(time_value(to));
        let rows: Vec<Row> = db.rows(
            &format!(
                "SELECT clientName, time FROM activity \
                 WHERE clientName IN ({}) AND time >= ? AND time < ?",
                in_list(chunk.len())
            ),
            params,
        )?;
        for mut r in rows {
            out.push((col(&mut r, 0)?, time_col(&mut r, 1)?));
        }
    }
    Ok(out)
}

/// Two statements whatever the number of sketches: the activity is inserted only when the
/// client exists (INSERT … SELECT), then the open sketches come with their groups' keys.
pub fn record_ping(db: &mut Db<Conn>, a: &Activity) -> StorageResult<Option<Vec<OpenSketch>>> {
    let inserted = db.run(
        "INSERT INTO activity (clientName, time, countryCode, extensionVersion, timezone) \
         SELECT name, ?, ?, ?, ? FROM clients WHERE name = ?",
        vec![
            time_value(a.time),
            opt(&a.country_code),
            opt(&a.extension_version),
            opt(&a.timezone),
            s(&a.client_name),
        ],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    let rows: Vec<Row> = db.rows(
        &format!(
            "SELECT {SKETCH_COLUMNS}, g.publicKeys FROM sketches s \
             LEFT JOIN sketch_groups g \
               ON g.campaignName = s.campaignName AND g.day = s.day AND g.groupId = s.`group` \
             WHERE s.clientName = ? AND s.submitted = 0 \
             ORDER BY s.campaignName, s.day, s.name"
        ),
        vec![s(&a.client_name)],
    )?;
    let mut open = Vec::with_capacity(rows.len());
    for mut r in rows {
        let sketch = sketch_of(&mut r)?;
        let keys: Option<String> = col(&mut r, 8)?;
        open.push(OpenSketch {
            sketch,
            public_keys: keys
                .as_deref()
                .map(codec::decode_keys)
                .transpose()?
                .unwrap_or_default(),
        });
    }
    Ok(Some(open))
}

/// Candidates are read without locks; each batch is deleted with its condition checked again,
/// so a client that pings meanwhile is kept.
pub fn prune_clients(db: &mut Db<Conn>, threshold: DateTime<Utc>) -> StorageResult<u64> {
    let candidates: Vec<String> = db.rows(
        "SELECT c.name FROM clients c WHERE c.createTime < ? AND NOT EXISTS \
         (SELECT 1 FROM activity a WHERE a.clientName = c.name AND a.time >= ?)",
        vec![time_value(threshold), time_value(threshold)],
    )?;
    let mut deleted = 0;
    for chunk in candidates.chunks(IN_BATCH) {
        let names: Vec<Value> = chunk.iter().map(|c| s(c)).collect();
        let mut params = names.clone();
        params.push(time_value(threshold));
        params.push(time_value(threshold));
        deleted += db.run(
            &format!(
                "DELETE FROM clients WHERE name IN ({}) AND createTime < ? AND NOT EXISTS \
                 (SELECT 1 FROM activity a WHERE a.clientName = clients.name AND a.time >= ?)",
                in_list(chunk.len())
            ),
            params,
        )?;
        db.run(
            &format!(
                "DELETE FROM activity WHERE clientName IN ({}) AND NOT EXISTS \
                 (SELECT 1 FROM clients c WHERE c.name = activity.clientName)",
                in_list(chunk.len())
            ),
            names,
        )?;
    }
    Ok(deleted)
}

pub fn delete_activity_before(db: &mut Db<Conn>, before: DateTime<Utc>) -> StorageResult<u64> {
    let mut deleted = 0;
    loop {
        let n = db.run(
            "DELETE FROM activity WHERE time < ? LIMIT ?",
            vec![time_value(before), (DELETE_BATCH as u64).into()],
        )?;
        deleted += n;
        if n < DELETE_BATCH as u64 {
            return Ok(deleted);
        }
    }
}

// ---- sketches and groups

pub fn get_sketch(db: &mut Db<Conn>, name: &str) -> StorageResult<Option<Sketch>> {
    db.first::<Row>(
        &format!("SELECT {SKETCH_COLUMNS} FROM sketches s WHERE s.name = ?"),
        vec![s(name)],
    )?
    .map(|mut r| sketch_of(&mut r))
    .transpose()
}

pub fn create_day_sketches(db: &mut Db<Conn>, day: &DaySketches) -> StorageResult<()> {
    let campaign = &day.campaign_name;
    db.transaction(|tx| {
        let exists: Option<i64> = tx.first(
            "SELECT EXISTS (SELECT 1 FROM sketch_groups WHERE campaignName = ? AND day = ?) \
                 OR EXISTS (SELECT 1 FROM sketches WHERE campaignName = ? AND day = ?)",
            vec![s(campaign), day.day.into(), s(campaign), day.day.into()],
        )?;
        if exists.unwrap_or(0) != 0 {
            return Err(StorageError::AlreadyExists);
        }
        let groups = day
            .groups
            .iter()
            .map(|g| {
                vec![
                    s(&g.campaign_name),
                    g.day.into(),
                    g.group.into(),
                    s(&codec::encode_keys(&g.public_keys)),
                    g.queries_count.into(),
                    g.submitted.into(),
                    g.encrypted.into(),
                    s(&codec::encode_sum(&g.sum)),
                ]
            })
            .collect();
        tx.insert_rows(
            &format!("INSERT INTO sketch_groups ({GROUP_COLUMNS}) VALUES "),
            8,
            groups,
        )?;
        let sketches = day
            .sketches
            .iter()
            .map(|k| {
                vec![
                    s(&k.name),
                    time_value(k.create_time),
                    s(&k.client_name),
                    s(&k.campaign_name),
                    k.day.into(),
                    k.group.into(),
                    k.queries_count.into(),
                    k.submitted.into(),
                ]
            })
            .collect();
        tx.insert_rows(
            "INSERT INTO sketches (name, createTime, clientName, campaignName, day, `group`, \
             queriesCount, submitted) VALUES ",
            8,
            sketches,
        )?;
        Ok(())
    })
}

/// One transaction, locking in a fixed order (sketch, group, raw sum) so that concurrent
/// submissions to one group queue on the group row and are all counted.
pub fn submit(db: &mut Db<Conn>, sub: &Submission) -> StorageResult<SubmitOutcome> {
    db.transaction(|tx| {
        let Some((campaign, day, group, submitted)) = tx.first::<(String, Day, u32, bool)>(
            "SELECT campaignName, day, `group`, submitted FROM sketches WHERE name = ? FOR UPDATE",
            vec![s(&sub.sketch_name)],
        )?
        else {
            return Ok(SubmitOutcome::NotFound);
        };
        if submitted {
            return Ok(SubmitOutcome::AlreadySubmitted);
        }
        let key = vec![s(&campaign), day.into(), group.into()];
        let Some((mut submitted_count, mut encrypted_count, sum)) = tx
            .first::<(u32, u32, String)>(
                "SELECT submittedCount, encryptedCount, encryptedSum FROM sketch_groups \
                 WHERE campaignName = ? AND day = ? AND groupId = ? FOR UPDATE",
                key.clone(),
            )?
        else {
            return Err(StorageError::Failure(format!(
                "sketch {} has no group",
                sub.sketch_name
            )));
        };
        submitted_count += 1;
        let mut sum = codec::decode_sum(&sum)?;
        if let Some(values) = &sub.encrypted {
            encrypted_count += 1;
            crypto::fold(&mut sum, values);
        }
        let mut params = vec![
            submitted_count.into(),
            encrypted_count.into(),
            s(&codec::encode_sum(&sum)),
        ];
        params.extend(key);
        tx.run(
            "UPDATE sketch_groups SET submittedCount = ?, encryptedCount = ?, encryptedSum = ? \
             WHERE campaignName = ? AND day = ? AND groupId = ?",
            params,
        )?;
        if let Some(raw) = &sub.raw {
            tx.run(
                "INSERT INTO day_raw_sums (campaignName, day, rawValues) VALUES (?, ?, '') \
                 ON DUPLICATE KEY UPDATE rawValues = rawValues",
                vec![s(&campaign), day.into()],
            )?;
            let current: Option<String> = tx.first(
                "SELECT rawValues FROM day_raw_sums WHERE campaignName = ? AND day = ? FOR UPDATE",
                vec![s(&campaign), day.into()],
            )?;
            let mut total = codec::decode_counts(current.as_deref().unwrap_or(""))?;
            add_counts(&mut total, raw);
            tx.run(
                "UPDATE day_raw_sums SET rawValues = ? WHERE campaignName = ? AND day = ?",
                vec![s(&codec::encode_counts(&total)), s(&campaign), day.into()],
            )?;
        }
        tx.run(
            "UPDATE sketches SET submitted = 1 WHERE name = ?",
            vec![s(&sub.sketch_name)],
        )?;
        Ok(SubmitOutcome::Accepted)
    })
}

pub fn day_groups(db: &mut Db<Conn>, campaign: &str, day: Day) -> StorageResult<Vec<Group>> {
    let rows = db.rows(
        &format!(
            "SELECT {GROUP_COLUMNS} FROM sketch_groups WHERE campaignName = ? AND day = ? \
             ORDER BY groupId"
        ),
        vec![s(campaign), day.into()],
    )?;
    all(rows, group_of)
}

pub fn day_raw_sum(db: &mut Db<Conn>, campaign: &str, day: Day) -> StorageResult<Option<Vec<i64>>> {
    db.first::<String>(
        "SELECT rawValues FROM day_raw_sums WHERE campaignName = ? AND day = ?",
        vec![s(campaign), day.into()],
    )?
    .map(|v| codec::decode_counts(&v))
    .transpose()
}

pub fn delete_sketches_before(
    db: &mut Db<Conn>,
    campaign: &str,
    before: Day,
) -> StorageResult<u64> {
    db.transaction(|tx| {
        let params = vec![s(campaign), before.into()];
        let n = tx.run(
            "DELETE FROM sketches WHERE campaignName = ? AND day < ?",
            params.clone(),
        )?;
        tx.run(
            "DELETE FROM sketch_groups WHERE campaignName = ? AND day < ?",
            params.clone(),
        )?;
        tx.run(
            "DELETE FROM day_raw_sums WHERE campaignName = ? AND day < ?",
            params,
        )?;
        Ok(n)
    })
}

pub fn delete_orphan_sketches(db: &mut Db<Conn>) -> StorageResult<u64> {
    db.transaction(|tx| {
        let mut n = tx.run(
            "DELETE s FROM sketches s LEFT JOIN clients c ON c.name = s.clientName \
             WHERE c.name IS NULL",
            vec![],
        )?;
        n += tx.run(
            "DELETE s FROM sketches s LEFT JOIN campaigns c ON c.name = s.campaignName \
             WHERE c.name IS NULL",
            vec![],
        )?;
        for table in ["sketch_groups", "day_raw_sums"] {
            tx.run(
                &format!(
                    "DELETE t FROM {table} t LEFT JOIN campaigns c ON c.name = t.campaignName \
                     WHERE c.name IS NULL"
                ),
                vec![],
            )?;
        }
        Ok(n)
    })
}

// ---- aggregations

pub fn put_aggregation(db: &mut Db<Conn>, a: &Aggregation) -> StorageResult<()> {
    db.run(
        "INSERT INTO aggregations (name, campaignName, day, decryptedValues, rawValues, \
         activeCount, submittedCount, decryptedCount) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE decryptedValues = VALUES(decryptedValues), \
         rawValues = VALUES(rawValues), activeCount = VALUES(activeCount), \
         submittedCount = VALUES(submittedCount), decryptedCount = VALUES(decryptedCount)",
        vec![
            s(&a.name()),
            s(&a.campaign_name),
            a.day.into(),
            s(&codec::encode_counts(&a.decrypted_values)),
            s(&codec::encode_counts(&a.raw_values)),
            a.stats.active_count.into(),
            a.stats.submitted_count.into(),
            a.stats.decrypted_count.into(),
        ],
    )?;
    Ok(())
}

pub fn list_aggregations(db: &mut Db<Conn>, campaign: &str) -> StorageResult<Vec<Aggregation>> {
    let rows = db.rows(
        &format!(
            "SELECT {AGGREGATION_COLUMNS} FROM aggregations WHERE campaignName = ? \
             ORDER BY day DESC"
        ),
        vec![s(campaign)],
    )?;
    all(rows, aggregation_of)
}

pub fn get_aggregation(
    db: &mut Db<Conn>,
    campaign: &str,
    day: Day,
) -> StorageResult<Option<Aggregation>> {
    db.first::<Row>(
        &format!(
            "SELECT {AGGREGATION_COLUMNS} FROM aggregations WHERE campaignName = ? AND day = ?"
        ),
        vec![s(campaign), day.into()],
    )?
    .map(aggregation_of)
    .transpose()
}

// ---- jobs

pub fn last_completed(db: &mut Db<Conn>, job: &str) -> StorageResult<Option<DateTime<Utc>>> {
    match db.first::<Row>(
        "SELECT completedFiring FROM jobs WHERE job = ?",
        vec![s(job)],
    )? {
        Some(mut r) => opt_time_col(&mut r, 0),
        None => Ok(None),
    }
}

/// The job's row is created first on its own, then locked, so concurrent claimers queue on one
/// row lock and exactly one of them takes an open firing.
pub fn claim_job(
    db: &mut Db<Conn>,
    job: &str,
    firing: DateTime<Utc>,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> StorageResult<bool> {
    db.run("INSERT IGNORE INTO jobs (job) VALUES (?)", vec![s(job)])?;
    db.transaction(|tx| {
        let Some(mut row) = tx.first::<Row>(
            "SELECT completedFiring, owner, leaseUntil FROM jobs WHERE job = ? FOR UPDATE",
            vec![s(job)],
        )?
        else {
            return Err(StorageError::Failure(format!("job row {job} vanished")));
        };
        let completed = opt_time_col(&mut row, 0)?;
        let holder: Option<String> = col(&mut row, 1)?;
        let until = opt_time_col(&mut row, 2)?;
        if completed.is_some_and(|c| c >= codec_millis(firing)) {
            return Ok(false);
        }
        if let (Some(holder), Some(until)) = (holder, until) {
            if holder != owner && until > now {
                return Ok(false);
            }
        }
        tx.run(
            "UPDATE jobs SET owner = ?, leaseUntil = ? WHERE job = ?",
            vec![s(owner), time_value(lease_until), s(job)],
        )?;
        Ok(true)
    })
}

fn codec_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    crate::domain::time::millis(t)
}

pub fn complete_job(
    db: &mut Db<Conn>,
    job: &str,
    firing: DateTime<Utc>,
    owner: &str,
) -> StorageResult<()> {
    // Assignments run left to right: the lease is released before the owner is cleared.
    db.run(
        "INSERT INTO jobs (job, completedFiring) VALUES (?, ?) ON DUPLICATE KEY UPDATE \
         leaseUntil = IF(owner <=> ?, NULL, leaseUntil), \
         owner = IF(owner <=> ?, NULL, owner), \
         completedFiring = GREATEST(COALESCE(completedFiring, VALUES(completedFiring)), \
                                    VALUES(completedFiring))",
        vec![s(job), time_value(firing), s(owner), s(owner)],
    )?;
    Ok(())
}

pub fn release_job(db: &mut Db<Conn>, job: &str, owner: &str) -> StorageResult<()> {
    db.run(
        "UPDATE jobs SET leaseUntil = NULL, owner = NULL WHERE job = ? AND owner = ?",
        vec![s(job), s(owner)],
    )?;
    Ok(())
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
