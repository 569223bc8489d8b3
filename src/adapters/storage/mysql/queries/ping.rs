//! A ping in MySQL: one SELECT tells whether the client exists and lists its open sketches with
//! a fingerprint of their groups' keys; the keys themselves are read and decoded once per group
//! and process ([`KeyCache`]); the activity row is written by a group commit
//! ([`ActivityWriter`]): the rows of the pings that arrive while one INSERT is in flight are
//! written together by the next, and each ping answers once its row is committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use r2d2_mysql::mysql::{Conn, Row, Value};
use tokio::sync::oneshot;

use super::super::codec::{self, col, time_value};
use super::super::pool::Inner;
use super::sketches::{sketch_of, SKETCH_COLUMNS};
use super::{is_deadlock, opt, s, Db, DEADLOCK_ATTEMPTS};
use crate::domain::client::Activity;
use crate::domain::shared::Shared;
use crate::domain::sketch::OpenSketch;
use crate::domain::time::Day;
use crate::ports::{StorageError, StorageResult};

/// Most activity rows written by one INSERT.
const MAX_BATCH: usize = 128;
/// Groups whose keys are kept; past this the cache starts again empty.
const MAX_GROUPS: usize = 100_000;

type GroupKey = (String, Day, u32);
/// CRC32 and length of the stored text, and the keys it decoded to.
type Cached = (u32, u64, Shared<Vec<String>>);

/// Each group's keys as last read, with the fingerprint (CRC32 and length of the stored text)
/// they were read under: a group written again (its day deleted and sketched anew) has another
/// fingerprint and is read again.
#[derive(Default)]
pub struct KeyCache {
    groups: Mutex<HashMap<GroupKey, Cached>>,
}

/// The open sketches of `client` (`None` when it does not exist), in one statement when every
/// group's keys are cached, plus one per group read for the first time.
pub(in super::super) fn open_sketches(
    db: &mut Db<Conn>,
    keys: &KeyCache,
    client: &str,
) -> StorageResult<Option<Vec<OpenSketch>>> {
    let rows: Vec<Row> = db.rows(
        &format!(
            "SELECT {SKETCH_COLUMNS}, CRC32(g.publicKeys), LENGTH(g.publicKeys) FROM clients c \
             LEFT JOIN sketches s ON s.clientName = c.name AND s.submitted = 0 \
             LEFT JOIN sketch_groups g \
               ON g.campaignName = s.campaignName AND g.day = s.day AND g.groupId = s.`group` \
             WHERE c.name = ? \
             ORDER BY s.campaignName, s.day, s.name"
        ),
        vec![s(client)],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut open = Vec::with_capacity(rows.len());
    for mut r in rows {
        if r.as_ref(0) == Some(&Value::NULL) {
            // The client, without open sketches.
            continue;
        }
        let sketch = sketch_of(&mut r)?;
        let crc: Option<u32> = col(&mut r, 8)?;
        let len: Option<u64> = col(&mut r, 9)?;
        let public_keys = match crc.zip(len) {
            Some((crc, len)) => group_keys(db, keys, &sketch, crc, len)?,
            None => Shared::default(),
        };
        open.push(OpenSketch {
            sketch,
            public_keys,
        });
    }
    Ok(Some(open))
}

fn group_keys(
    db: &mut Db<Conn>,
    cache: &KeyCache,
    sketch: &crate::domain::sketch::Sketch,
    crc: u32,
    len: u64,
) -> StorageResult<Shared<Vec<String>>> {
    let key = (sketch.campaign_name.clone(), sketch.day, sketch.group);
    if let Some((c, l, keys)) = cache.groups.lock().get(&key) {
        if (*c, *l) == (crc, len) {
            return Ok(keys.clone());
        }
    }
    let row: Option<(String, u32, u64)> = db.first(
        "SELECT publicKeys, CRC32(publicKeys), LENGTH(publicKeys) FROM sketch_groups \
         WHERE campaignName = ? AND day = ? AND groupId = ?",
        vec![s(&key.0), key.1.into(), key.2.into()],
    )?;
    // Deleted meanwhile: as if the group were missing.
    let Some((text, crc, len)) = row else {
        return Ok(Shared::default());
    };
    let keys = Shared::new(codec::decode_keys(&text)?);
    let mut groups = cache.groups.lock();
    if groups.len() >= MAX_GROUPS {
        groups.clear();
    }
    groups.insert(key, (crc, len, keys.clone()));
    Ok(keys)
}

type Waiter = oneshot::Sender<StorageResult<()>>;

/// The group commit of activity rows.
#[derive(Default)]
pub struct ActivityWriter {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<(Activity, Waiter)>,
    /// Whether a writer is running; it takes the queue again after each INSERT.
    writing: bool,
}

impl ActivityWriter {
    /// Writes `activity` if its client exists, together with the rows of concurrent pings;
    /// returns once it is committed, or the error of the INSERT that carried it.
    pub(in super::super) async fn record(
        self: &Arc<Self>,
        inner: &Arc<Inner>,
        activity: Activity,
    ) -> StorageResult<()> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut q = self.queue.lock();
            q.waiting.push((activity, tx));
            !std::mem::replace(&mut q.writing, true)
        };
        if start {
            let (me, inner) = (self.clone(), inner.clone());
            tokio::task::spawn_blocking(move || me.write_all(&inner));
        }
        rx.await
            .unwrap_or_else(|_| Err(StorageError::Failure("activity writer stopped".into())))
    }

    /// Writes batches until the queue is empty.
    fn write_all(&self, inner: &Inner) {
        loop {
            let batch: Vec<(Activity, Waiter)> = {
                let mut q = self.queue.lock();
                if q.waiting.is_empty() {
                    q.writing = false;
                    return;
                }
                let n = q.waiting.len().min(MAX_BATCH);
                q.waiting.drain(..n).collect()
            };
            let (rows, waiters): (Vec<Activity>, Vec<Waiter>) = batch.into_iter().unzip();
            let started = Instant::now();
            let result = write(inner, &rows);
            if let Some(m) = &inner.metrics {
                let ok = !matches!(
                    result,
                    Err(StorageError::Unavailable(_) | StorageError::Failure(_))
                );
                m.storage_call("record_activity", started.elapsed(), ok);
            }
            for w in waiters {
                let _ = w.send(result.clone());
            }
        }
    }
}

/// One INSERT … SELECT of every row whose client exists, retried on deadlock.
fn write(inner: &Inner, rows: &[Activity]) -> StorageResult<()> {
    let mut conn = inner
        .pool
        .get()
        .map_err(|e| StorageError::Unavailable(format!("no database connection: {e}")))?;
    let mut db = Db::new(&mut *conn, &inner.statements);
    let sql = insert_sql(rows.len());
    let mut attempt = 0;
    loop {
        attempt += 1;
        let params = rows
            .iter()
            .flat_map(|a| {
                [
                    time_value(a.time),
                    opt(&a.country_code),
                    opt(&a.extension_version),
                    opt(&a.timezone),
                    s(&a.client_name),
                ]
            })
            .collect();
        match db.run(&sql, params) {
            Ok(_) => return Ok(()),
            Err(e) if is_deadlock(&e, &db.last_code) && attempt < DEADLOCK_ATTEMPTS => {}
            Err(e) => return Err(e),
        }
    }
}

fn insert_sql(rows: usize) -> String {
    let one = "SELECT name, ?, ?, ?, ? FROM clients WHERE name = ?";
    format!(
        "INSERT INTO activity (clientName, time, countryCode, extensionVersion, timezone) {}",
        vec![one; rows].join(" UNION ALL ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_insert_selects_every_row_of_the_batch() {
        assert_eq!(
            insert_sql(2),
            "INSERT INTO activity (clientName, time, countryCode, extensionVersion, timezone) \
             SELECT name, ?, ?, ?, ? FROM clients WHERE name = ? UNION ALL \
             SELECT name, ?, ?, ?, ? FROM clients WHERE name = ?"
        );
    }
}
