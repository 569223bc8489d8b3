//! The clients and their activity in MySQL: the role's implementation and its SQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use r2d2_mysql::mysql::{Conn, Row, Value};

use super::super::codec::{col, time_col, time_value};
use super::super::MysqlStorage;
use super::{all, in_list, opt, s, Db};
use crate::domain::client::{Activity, Client, ClientDetails};
use crate::domain::sketch::OpenSketch;
use crate::ports::storage::ClientCursor;
use crate::ports::{ClientStore, StorageError, StorageResult};

/// Names per `IN (…)` list.
const IN_BATCH: usize = 1000;
/// Rows per DELETE of old activity, so no delete holds locks for long.
const DELETE_BATCH: usize = 10_000;

#[async_trait]
impl ClientStore for MysqlStorage {
    async fn create_client(&self, client: &Client) -> StorageResult<()> {
        let c = client.clone();
        self.call("create_client", move |db| create_client(db, &c))
            .await
    }

    async fn get_client(&self, name: &str) -> StorageResult<Option<ClientDetails>> {
        let name = name.to_string();
        self.call("get_client", move |db| get_client(db, &name))
            .await
    }

    async fn replace_client(&self, client: &Client) -> StorageResult<()> {
        let c = client.clone();
        self.call("replace_client", move |db| replace_client(db, &c))
            .await
    }

    async fn delete_client(&self, name: &str) -> StorageResult<()> {
        let name = name.to_string();
        self.call("delete_client", move |db| delete_client(db, &name))
            .await
    }

    async fn list_clients(
        &self,
        limit: usize,
        after: Option<&ClientCursor>,
    ) -> StorageResult<Vec<Client>> {
        let after = after.cloned();
        self.call("list_clients", move |db| {
            list_clients(db, limit, after.as_ref())
        })
        .await
    }

    async fn count_clients(&self) -> StorageResult<u64> {
        self.call("count_clients", count_clients).await
    }

    async fn list_activity(
        &self,
        client: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> StorageResult<Vec<Activity>> {
        let client = client.map(str::to_string);
        self.call("list_activity", move |db| {
            list_activity(db, client.as_deref(), since)
        })
        .await
    }

    async fn active_clients(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<Client>> {
        self.call("active_clients", move |db| active_clients(db, from, to))
            .await
    }

    async fn activity_times(
        &self,
        clients: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<(String, DateTime<Utc>)>> {
        let clients = clients.to_vec();
        self.call("activity_times", move |db| {
            activity_times(db, &clients, from, to)
        })
        .await
    }

    /// One SELECT (plus one per group whose keys this process has not read yet), then the
    /// activity row written with those of concurrent pings (see `ping`).
    async fn record_ping(&self, activity: &Activity) -> StorageResult<Option<Vec<OpenSketch>>> {
        let name = activity.client_name.clone();
        let keys = self.keys.clone();
        let open = self
            .call("record_ping", move |db| {
                super::ping::open_sketches(db, &keys, &name)
            })
            .await?;
        if open.is_some() {
            self.activity.record(&self.inner, activity.clone()).await?;
        }
        Ok(open)
    }

    async fn prune_clients(&self, threshold: DateTime<Utc>) -> StorageResult<u64> {
        self.call("prune_clients", move |db| prune_clients(db, threshold))
            .await
    }

    async fn delete_activity_before(&self, before: DateTime<Utc>) -> StorageResult<u64> {
        self.call("delete_activity_before", move |db| {
            delete_activity_before(db, before)
        })
        .await
    }
}

// ---- rows

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

// ---- statements

fn create_client(db: &mut Db<Conn>, c: &Client) -> StorageResult<()> {
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

fn get_client(db: &mut Db<Conn>, name: &str) -> StorageResult<Option<ClientDetails>> {
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

fn replace_client(db: &mut Db<Conn>, c: &Client) -> StorageResult<()> {
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

fn delete_client(db: &mut Db<Conn>, name: &str) -> StorageResult<()> {
    db.transaction(|tx| {
        if tx.run("DELETE FROM clients WHERE name = ?", vec![s(name)])? == 0 {
            return Err(StorageError::NotFound);
        }
        tx.run("DELETE FROM activity WHERE clientName = ?", vec![s(name)])?;
        Ok(())
    })
}

fn list_clients(
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

fn count_clients(db: &mut Db<Conn>) -> StorageResult<u64> {
    Ok(db
        .first::<u64>("SELECT COUNT(*) FROM clients", vec![])?
        .unwrap_or(0))
}

fn list_activity(
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

fn active_clients(
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

fn activity_times(
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

/// Candidates are read without locks; each batch is deleted with its condition checked again,
/// so a client that pings meanwhile is kept.
fn prune_clients(db: &mut Db<Conn>, threshold: DateTime<Utc>) -> StorageResult<u64> {
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

fn delete_activity_before(db: &mut Db<Conn>, before: DateTime<Utc>) -> StorageResult<u64> {
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
