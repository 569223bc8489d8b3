//! The aggregations: one result per campaign-day.

use async_trait::async_trait;

use super::StorageResult;
use crate::domain::sketch::Aggregation;
use crate::domain::time::Day;

#[async_trait]
pub trait AggregationStore: Send + Sync + 'static {
    /// Creates or replaces the aggregation of (campaign, day).
    async fn put_aggregation(&self, aggregation: &Aggregation) -> StorageResult<()>;

    /// The aggregations of a campaign, newest day first (empty when none or no campaign).
    async fn list_aggregations(&self, campaign: &str) -> StorageResult<Vec<Aggregation>>;

    /// The aggregation of (campaign, day), or `Ok(None)`.
    async fn get_aggregation(&self, campaign: &str, day: Day)
        -> StorageResult<Option<Aggregation>>;
}
