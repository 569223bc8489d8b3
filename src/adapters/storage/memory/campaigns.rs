//! The campaigns in memory.

use async_trait::async_trait;

use super::{DayKey, MemoryStorage};
use crate::domain::campaign::Campaign;
use crate::domain::time::Day;
use crate::ports::{CampaignStore, StorageError, StorageResult};

#[async_trait]
impl CampaignStore for MemoryStorage {
    async fn create_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let mut inner = self.write();
        if inner.campaigns.contains_key(&campaign.name) {
            return Err(StorageError::AlreadyExists);
        }
        inner
            .campaigns
            .insert(campaign.name.clone(), campaign.clone());
        Ok(())
    }

    async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>> {
        Ok(self.read().campaigns.get(name).cloned())
    }

    async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>> {
        let mut all: Vec<Campaign> = self.read().campaigns.values().cloned().collect();
        all.sort_by(|a, b| {
            b.create_time
                .cmp(&a.create_time)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(all)
    }

    async fn replace_campaign(&self, campaign: &Campaign) -> StorageResult<()> {
        let mut inner = self.write();
        match inner.campaigns.get_mut(&campaign.name) {
            Some(c) => {
                *c = campaign.clone();
                Ok(())
            }
            None => Err(StorageError::NotFound),
        }
    }

    async fn delete_campaign(&self, name: &str) -> StorageResult<()> {
        let mut inner = self.write();
        if inner.campaigns.remove(name).is_none() {
            return Err(StorageError::NotFound);
        }
        let days = inner.campaign_days(name, Day::MAX);
        inner.remove_days(days);
        let aggs: Vec<DayKey> = inner
            .aggregations
            .range((name.to_string(), Day::MIN)..=(name.to_string(), Day::MAX))
            .map(|(k, _)| k.clone())
            .collect();
        for k in aggs {
            inner.aggregations.remove(&k);
        }
        Ok(())
    }
}
