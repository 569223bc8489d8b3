//! The campaigns.

use async_trait::async_trait;

use super::StorageResult;
use crate::domain::campaign::Campaign;

#[async_trait]
pub trait CampaignStore: Send + Sync + 'static {
    /// Stores a new campaign. `AlreadyExists` when its name is taken.
    async fn create_campaign(&self, campaign: &Campaign) -> StorageResult<()>;

    /// The campaign, or `Ok(None)` when there is none of that name.
    async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>>;

    /// Every campaign, newest `create_time` first (ties by name).
    async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>>;

    /// Replaces a campaign (same name). `NotFound` when there is none.
    async fn replace_campaign(&self, campaign: &Campaign) -> StorageResult<()>;

    /// Deletes a campaign with its aggregations, sketches, groups and raw sums, atomically.
    /// `NotFound` when there is none.
    async fn delete_campaign(&self, name: &str) -> StorageResult<()>;
}
