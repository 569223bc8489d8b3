//! The campaigns in MySQL: the role's implementation and its SQL.

use async_trait::async_trait;
use r2d2_mysql::mysql::{Conn, Row, Value};

use super::super::codec::{self, col, opt_time_col, time_col, time_value};
use super::super::MysqlStorage;
use super::{all, in_list, opt, s, Db};
use crate::domain::campaign::Campaign;
use crate::ports::{CampaignStore, StorageError, StorageResult};

#[async_trait]
impl CampaignStore for MysqlStorage {
    async fn create_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let c = campaign.clone();
        self.call("create_campaign", move |db| create_campaign(db, &c))
            .await
    }

    async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>> {
        let name = name.to_string();
        self.call("get_campaign", move |db| get_campaign(db, &name))
            .await
    }

    async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>> {
        self.call("list_campaigns", list_campaigns).await
    }

    async fn replace_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let c = campaign.clone();
        self.call("replace_campaign", move |db| replace_campaign(db, &c))
            .await
    }

    async fn delete_campaign(&self, name: &str) -> StorageResult<()> {
        let name = name.to_string();
        self.call("delete_campaign", move |db| delete_campaign(db, &name))
            .await
    }
}

// ---- rows

const CAMPAIGN_COLUMNS: &str = "name, createTime, displayName, email, notes, vocabulary, \
     startTime, endTime, delay, graceDelay, groupSize, samplingRate, collectEncrypted, collectRaw, \
     maxCount, minDecryptedCount";

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
        max_count: col(&mut r, 14)?,
        min_decrypted_count: col(&mut r, 15)?,
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
        c.max_count.into(),
        c.min_decrypted_count.into(),
        s(&c.name),
    ]
}

// ---- statements

fn create_campaign(db: &mut Db<Conn>, c: &Campaign) -> StorageResult<()> {
    db.run(
        &format!(
            "INSERT INTO campaigns (createTime, displayName, email, notes, vocabulary, startTime, \
             endTime, delay, graceDelay, groupSize, samplingRate, collectEncrypted, collectRaw, \
             maxCount, minDecryptedCount, name) VALUES ({})",
            in_list(16)
        ),
        campaign_params(c),
    )?;
    Ok(())
}

fn get_campaign(db: &mut Db<Conn>, name: &str) -> StorageResult<Option<Campaign>> {
    db.first::<Row>(
        &format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE name = ?"),
        vec![s(name)],
    )?
    .map(campaign_of)
    .transpose()
}

fn list_campaigns(db: &mut Db<Conn>) -> StorageResult<Vec<Campaign>> {
    let rows = db.rows(
        &format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns ORDER BY createTime DESC, name"),
        vec![],
    )?;
    all(rows, campaign_of)
}

fn replace_campaign(db: &mut Db<Conn>, c: &Campaign) -> StorageResult<()> {
    let n = db.run(
        "UPDATE campaigns SET createTime = ?, displayName = ?, email = ?, notes = ?, \
         vocabulary = ?, startTime = ?, endTime = ?, delay = ?, graceDelay = ?, groupSize = ?, \
         samplingRate = ?, collectEncrypted = ?, collectRaw = ?, maxCount = ?, \
         minDecryptedCount = ? WHERE name = ?",
        campaign_params(c),
    )?;
    if n == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

fn delete_campaign(db: &mut Db<Conn>, name: &str) -> StorageResult<()> {
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
