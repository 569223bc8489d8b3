//! The clients counted per day in MySQL: the role's implementation and its SQL. A day is one
//! row of `client_days` and its breakdown rows of `client_day_counts` (kind `country` or
//! `version`, '' for unknown); both are read by primary-key ranges.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use r2d2_mysql::mysql::{Conn, Row, Value};

use super::super::codec::{col, date_col, date_value, time_value};
use super::super::MysqlStorage;
use super::{all, s, Db};
use crate::domain::client::{ClientBreakdown, ClientDay};
use crate::ports::{ClientDayStore, StorageResult};

const COUNTRY: &str = "country";
const VERSION: &str = "version";

#[async_trait]
impl ClientDayStore for MysqlStorage {
    async fn count_client_day(
        &self,
        date: NaiveDate,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<(ClientDay, ClientBreakdown)> {
        self.call("count_client_day", move |db| {
            count_client_day(db, date, from, to)
        })
        .await
    }

    async fn client_days(&self, from: NaiveDate, to: NaiveDate) -> StorageResult<Vec<ClientDay>> {
        self.call("client_days", move |db| client_days(db, from, to))
            .await
    }

    async fn client_breakdown(&self, date: NaiveDate) -> StorageResult<Option<ClientBreakdown>> {
        self.call("client_breakdown", move |db| client_breakdown(db, date))
            .await
    }

    async fn delete_client_days_before(&self, before: NaiveDate) -> StorageResult<u64> {
        self.call("delete_client_days_before", move |db| {
            delete_client_days_before(db, before)
        })
        .await
    }
}

// ---- statements

/// Two reads (the day's registrations by the creation-time index; the last activity of each
/// client active in it, grouped by country and version), then one transaction writing the day
/// and its breakdown.
fn count_client_day(
    db: &mut Db<Conn>,
    date: NaiveDate,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StorageResult<(ClientDay, ClientBreakdown)> {
    let registrations: u64 = db
        .first(
            "SELECT COUNT(*) FROM clients WHERE createTime >= ? AND createTime < ?",
            vec![time_value(from), time_value(to)],
        )?
        .unwrap_or(0);
    let groups: Vec<(Option<String>, Option<String>, u64)> = db.rows(
        "SELECT a.countryCode, a.extensionVersion, COUNT(*) FROM activity a \
         JOIN (SELECT MAX(unused_id) AS id FROM activity \
               WHERE time >= ? AND time < ? GROUP BY clientName) last \
           ON a.unused_id = last.id \
         GROUP BY a.countryCode, a.extensionVersion",
        vec![time_value(from), time_value(to)],
    )?;
    let mut breakdown = ClientBreakdown::default();
    let mut active = 0;
    for (country, version, n) in groups {
        active += n;
        *breakdown.countries.entry(country).or_default() += n;
        *breakdown.extension_versions.entry(version).or_default() += n;
    }
    let day = ClientDay {
        date,
        registrations,
        active,
    };
    let rows: Vec<Vec<Value>> = breakdown
        .countries
        .iter()
        .map(|(v, n)| (COUNTRY, v, *n))
        .chain(
            breakdown
                .extension_versions
                .iter()
                .map(|(v, n)| (VERSION, v, *n)),
        )
        .map(|(kind, value, n)| {
            vec![
                date_value(date),
                s(kind),
                s(value.as_deref().unwrap_or("")),
                n.into(),
            ]
        })
        .collect();
    db.transaction(|tx| {
        tx.run(
            "INSERT INTO client_days (date, registrations, active) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE registrations = VALUES(registrations), \
                                     active = VALUES(active)",
            vec![date_value(date), registrations.into(), active.into()],
        )?;
        tx.run(
            "DELETE FROM client_day_counts WHERE date = ?",
            vec![date_value(date)],
        )?;
        tx.insert_rows(
            "INSERT INTO client_day_counts (date, kind, value, clients) VALUES ",
            4,
            rows.clone(),
        )?;
        Ok(())
    })?;
    Ok((day, breakdown))
}

fn client_days(db: &mut Db<Conn>, from: NaiveDate, to: NaiveDate) -> StorageResult<Vec<ClientDay>> {
    let rows = db.rows::<Row>(
        "SELECT date, registrations, active FROM client_days \
         WHERE date >= ? AND date <= ? ORDER BY date",
        vec![date_value(from), date_value(to)],
    )?;
    all(rows, |mut r| {
        Ok(ClientDay {
            date: date_col(&mut r, 0)?,
            registrations: col(&mut r, 1)?,
            active: col(&mut r, 2)?,
        })
    })
}

fn client_breakdown(db: &mut Db<Conn>, date: NaiveDate) -> StorageResult<Option<ClientBreakdown>> {
    let counted: Option<u64> = db.first(
        "SELECT active FROM client_days WHERE date = ?",
        vec![date_value(date)],
    )?;
    if counted.is_none() {
        return Ok(None);
    }
    let rows: Vec<(String, String, u64)> = db.rows(
        "SELECT kind, value, clients FROM client_day_counts WHERE date = ?",
        vec![date_value(date)],
    )?;
    let mut breakdown = ClientBreakdown::default();
    for (kind, value, n) in rows {
        let value = Some(value).filter(|v| !v.is_empty());
        match kind.as_str() {
            COUNTRY => breakdown.countries.insert(value, n),
            _ => breakdown.extension_versions.insert(value, n),
        };
    }
    Ok(Some(breakdown))
}

fn delete_client_days_before(db: &mut Db<Conn>, before: NaiveDate) -> StorageResult<u64> {
    db.transaction(|tx| {
        tx.run(
            "DELETE FROM client_day_counts WHERE date < ?",
            vec![date_value(before)],
        )?;
        tx.run(
            "DELETE FROM client_days WHERE date < ?",
            vec![date_value(before)],
        )
    })
}
