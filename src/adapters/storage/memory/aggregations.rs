//! The aggregations in memory.

use async_trait::async_trait;

use super::MemoryStorage;
use crate::domain::sketch::Aggregation;
use crate::domain::time::Day;
use crate::ports::{AggregationStore, StorageResult};

#[async_trait]
impl AggregationStore for MemoryStorage {
    async fn put_aggregation(&self, aggregation: &Aggregation) -> StorageResult<()> {
        self.write().aggregations.insert(
            (aggregation.campaign_name.clone(), aggregation.day),
            aggregation.clone(),
        );
        Ok(())
    }

    async fn list_aggregations(&self, campaign: &str) -> StorageResult<Vec<Aggregation>> {
        let inner = self.read();
        Ok(inner
            .aggregations
            .range((campaign.to_string(), Day::MIN)..=(campaign.to_string(), Day::MAX))
            .rev()
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn get_aggregation(
        &self,
        campaign: &str,
        day: Day,
    ) -> StorageResult<Option<Aggregation>> {
        Ok(self
            .read()
            .aggregations
            .get(&(campaign.to_string(), day))
            .cloned())
    }
}
