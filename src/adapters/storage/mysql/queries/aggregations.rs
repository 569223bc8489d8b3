//! The aggregations in MySQL: the role's implementation and its SQL.

use async_trait::async_trait;
use r2d2_mysql::mysql::{Conn, Row};

use super::super::codec::{self, col};
use super::super::MysqlStorage;
use super::{all, s, Db};
use crate::domain::sketch::{Aggregation, Stats};
use crate::domain::time::Day;
use crate::ports::{AggregationStore, StorageResult};

#[async_trait]
impl AggregationStore for MysqlStorage {
    async fn put_aggregation(&self, aggregation: &Aggregation) -> StorageResult<()> {
        let a = aggregation.clone();
        self.call("put_aggregation", move |db| put_aggregation(db, &a))
            .await
    }

    async fn list_aggregations(&self, campaign: &str) -> StorageResult<Vec<Aggregation>> {
        let campaign = campaign.to_string();
        self.call("list_aggregations", move |db| {
            list_aggregations(db, &campaign)
        })
        .await
    }

    async fn get_aggregation(
        &self,
        campaign: &str,
        day: Day,
    ) -> StorageResult<Option<Aggregation>> {
        let campaign = campaign.to_string();
        self.call("get_aggregation", move |db| {
            get_aggregation(db, &campaign, day)
        })
        .await
    }
}

// ---- rows

const AGGREGATION_COLUMNS: &str = "campaignName, day, activeCount, submittedCount, \
     decryptedCount, decryptedValues, rawValues, rejectedCount, withheld";

fn aggregation_of(mut r: Row) -> StorageResult<Aggregation> {
    Ok(Aggregation {
        campaign_name: col(&mut r, 0)?,
        day: col(&mut r, 1)?,
        stats: Stats {
            active_count: col(&mut r, 2)?,
            submitted_count: col(&mut r, 3)?,
            decrypted_count: col(&mut r, 4)?,
            rejected_count: col(&mut r, 7)?,
        },
        decrypted_values: codec::decode_counts(&col::<String>(&mut r, 5)?)?,
        raw_values: codec::decode_counts(&col::<String>(&mut r, 6)?)?,
        withheld: col(&mut r, 8)?,
    })
}

// ---- statements

fn put_aggregation(db: &mut Db<Conn>, a: &Aggregation) -> StorageResult<()> {
    db.run(
        "INSERT INTO aggregations (name, campaignName, day, decryptedValues, rawValues, \
         activeCount, submittedCount, decryptedCount, rejectedCount, withheld) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE decryptedValues = VALUES(decryptedValues), \
         rawValues = VALUES(rawValues), activeCount = VALUES(activeCount), \
         submittedCount = VALUES(submittedCount), decryptedCount = VALUES(decryptedCount), \
         rejectedCount = VALUES(rejectedCount), withheld = VALUES(withheld)",
        vec![
            s(&a.name()),
            s(&a.campaign_name),
            a.day.into(),
            s(&codec::encode_counts(&a.decrypted_values)),
            s(&codec::encode_counts(&a.raw_values)),
            a.stats.active_count.into(),
            a.stats.submitted_count.into(),
            a.stats.decrypted_count.into(),
            a.stats.rejected_count.into(),
            a.withheld.into(),
        ],
    )?;
    Ok(())
}

fn list_aggregations(db: &mut Db<Conn>, campaign: &str) -> StorageResult<Vec<Aggregation>> {
    let rows = db.rows(
        &format!(
            "SELECT {AGGREGATION_COLUMNS} FROM aggregations WHERE campaignName = ? \
             ORDER BY day DESC"
        ),
        vec![s(campaign)],
    )?;
    all(rows, aggregation_of)
}

fn get_aggregation(
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
