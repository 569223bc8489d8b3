//! The sketches, their groups and the days' raw sums in MySQL: the role's implementation and
//! its SQL.

use async_trait::async_trait;
use r2d2_mysql::mysql::{Conn, Row};

use super::super::codec::{self, col, time_col, time_value};
use super::super::MysqlStorage;
use super::{all, s, Db};
use crate::domain::crypto;
use crate::domain::sketch::{add_counts, Group, Sketch, Submission};
use crate::domain::time::Day;
use crate::ports::storage::{DaySketches, SubmitOutcome};
use crate::ports::{SketchStore, StorageError, StorageResult};

#[async_trait]
impl SketchStore for MysqlStorage {
    async fn get_sketch(&self, name: &str) -> StorageResult<Option<Sketch>> {
        let name = name.to_string();
        self.call("get_sketch", move |db| get_sketch(db, &name))
            .await
    }

    async fn create_day_sketches(&self, day: &DaySketches) -> StorageResult<()> {
        let day = day.clone();
        self.call("create_day_sketches", move |db| {
            create_day_sketches(db, &day)
        })
        .await
    }

    async fn submit(&self, submission: &Submission) -> StorageResult<SubmitOutcome> {
        let sub = submission.clone();
        self.call("submit", move |db| submit(db, &sub)).await
    }

    async fn day_groups(&self, campaign: &str, day: Day) -> StorageResult<Vec<Group>> {
        let campaign = campaign.to_string();
        self.call("day_groups", move |db| day_groups(db, &campaign, day))
            .await
    }

    async fn day_raw_sum(&self, campaign: &str, day: Day) -> StorageResult<Option<Vec<i64>>> {
        let campaign = campaign.to_string();
        self.call("day_raw_sum", move |db| day_raw_sum(db, &campaign, day))
            .await
    }

    async fn delete_sketches_before(&self, campaign: &str, before: Day) -> StorageResult<u64> {
        let campaign = campaign.to_string();
        self.call("delete_sketches_before", move |db| {
            delete_sketches_before(db, &campaign, before)
        })
        .await
    }

    async fn delete_orphan_sketches(&self) -> StorageResult<u64> {
        self.call("delete_orphan_sketches", delete_orphan_sketches)
            .await
    }
}

// ---- rows

pub(super) const SKETCH_COLUMNS: &str =
    "s.name, s.createTime, s.clientName, s.campaignName, s.day, s.`group`, s.queriesCount, s.submitted";

pub(super) fn sketch_of(r: &mut Row) -> StorageResult<Sketch> {
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

// ---- statements

fn get_sketch(db: &mut Db<Conn>, name: &str) -> StorageResult<Option<Sketch>> {
    db.first::<Row>(
        &format!("SELECT {SKETCH_COLUMNS} FROM sketches s WHERE s.name = ?"),
        vec![s(name)],
    )?
    .map(|mut r| sketch_of(&mut r))
    .transpose()
}

fn create_day_sketches(db: &mut Db<Conn>, day: &DaySketches) -> StorageResult<()> {
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
fn submit(db: &mut Db<Conn>, sub: &Submission) -> StorageResult<SubmitOutcome> {
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
        let overflow = || StorageError::Failure("group counts overflow".into());
        submitted_count = submitted_count.checked_add(1).ok_or_else(overflow)?;
        let mut sum = codec::decode_sum(&sum)?;
        if let Some(values) = &sub.encrypted {
            encrypted_count = encrypted_count.checked_add(1).ok_or_else(overflow)?;
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
            // The transaction rolls back: the sketch stays open and nothing is folded.
            add_counts(&mut total, raw).map_err(|e| {
                StorageError::Failure(format!("raw sum of {campaign} day {day}: {e}"))
            })?;
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

fn day_groups(db: &mut Db<Conn>, campaign: &str, day: Day) -> StorageResult<Vec<Group>> {
    let rows = db.rows(
        &format!(
            "SELECT {GROUP_COLUMNS} FROM sketch_groups WHERE campaignName = ? AND day = ? \
             ORDER BY groupId"
        ),
        vec![s(campaign), day.into()],
    )?;
    all(rows, group_of)
}

fn day_raw_sum(db: &mut Db<Conn>, campaign: &str, day: Day) -> StorageResult<Option<Vec<i64>>> {
    db.first::<String>(
        "SELECT rawValues FROM day_raw_sums WHERE campaignName = ? AND day = ?",
        vec![s(campaign), day.into()],
    )?
    .map(|v| codec::decode_counts(&v))
    .transpose()
}

fn delete_sketches_before(db: &mut Db<Conn>, campaign: &str, before: Day) -> StorageResult<u64> {
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

fn delete_orphan_sketches(db: &mut Db<Conn>) -> StorageResult<u64> {
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
