//! Campaign management and results, for the dashboard.

use std::sync::Arc;

use super::catalog::CampaignCatalog;
use super::Context;
use crate::domain::campaign::{self, Campaign, CampaignInput};
use crate::domain::error::DomainError;
use crate::domain::export::{export_rows, ExportRow};
use crate::domain::sketch::Aggregation;
use crate::domain::time::{millis, Day};
use crate::ports::StorageError;

#[derive(Clone)]
pub struct CampaignService {
    ctx: Context,
    catalog: Arc<CampaignCatalog>,
}

/// Counts shown on the dashboard's home page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub active_campaigns: u64,
    pub active_clients: u64,
}

fn with_millis(mut input: CampaignInput) -> CampaignInput {
    input.start_time = input.start_time.map(millis);
    input.end_time = input.end_time.map(millis);
    input
}

impl CampaignService {
    pub fn new(ctx: Context) -> Self {
        Self::with_catalog(ctx, Arc::default())
    }

    /// A campaign service invalidating, after each write, the snapshot that pings read.
    pub fn with_catalog(ctx: Context, catalog: Arc<CampaignCatalog>) -> Self {
        CampaignService { ctx, catalog }
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    pub async fn create(&self, input: CampaignInput) -> Result<Campaign, DomainError> {
        let fields = campaign::validate(&with_millis(input))?;
        let campaign = fields.into_campaign(self.ctx.random.uuid(), self.ctx.now());
        self.ctx.storage.create_campaign(&campaign).await?;
        self.catalog.invalidate();
        Ok(campaign)
    }

    pub async fn get(&self, name: &str) -> Result<Campaign, DomainError> {
        self.ctx
            .storage
            .get_campaign(name)
            .await?
            .ok_or(DomainError::NotFound)
    }

    /// Campaigns newest first, optionally only those (not) active now.
    pub async fn list(&self, active: Option<bool>) -> Result<Vec<Campaign>, DomainError> {
        let now = self.ctx.now();
        let mut campaigns = self.ctx.storage.list_campaigns().await?;
        if let Some(active) = active {
            campaigns.retain(|c| c.active(now) == active);
        }
        Ok(campaigns)
    }

    pub async fn update(&self, name: &str, input: CampaignInput) -> Result<Campaign, DomainError> {
        let current = self.get(name).await?;
        let mut fields = campaign::validate(&with_millis(input))?;
        let now = self.ctx.now();
        campaign::take_late_end_as_now(&current, &mut fields, now);
        campaign::validate_update(&current, &fields, now)?;
        let updated = fields.into_campaign(current.name, current.create_time);
        let result = self.ctx.storage.replace_campaign(&updated).await;
        self.catalog.invalidate();
        match result {
            Err(StorageError::NotFound) => Err(DomainError::NotFound),
            other => other.map(|_| updated).map_err(Into::into),
        }
    }

    /// Deletes a campaign with its results and sketches; an active one only with `force`.
    pub async fn delete(&self, name: &str, force: bool) -> Result<(), DomainError> {
        let current = self.get(name).await?;
        if current.active(self.ctx.now()) && !force {
            return Err(DomainError::Conflict(
                "campaign is active; delete it with force=true".into(),
            ));
        }
        let result = self.ctx.storage.delete_campaign(name).await;
        self.catalog.invalidate();
        match result {
            Err(StorageError::NotFound) => Err(DomainError::NotFound),
            other => other.map_err(Into::into),
        }
    }

    /// The campaign's results, newest day first.
    pub async fn results(&self, name: &str) -> Result<(Campaign, Vec<Aggregation>), DomainError> {
        let campaign = self.get(name).await?;
        let results = self.ctx.storage.list_aggregations(name).await?;
        Ok((campaign, results))
    }

    pub async fn result(
        &self,
        name: &str,
        day: Day,
    ) -> Result<(Campaign, Aggregation), DomainError> {
        let campaign = self.get(name).await?;
        let result = self
            .ctx
            .storage
            .get_aggregation(name, day)
            .await?
            .ok_or(DomainError::NotFound)?;
        Ok((campaign, result))
    }

    /// Export rows of every result (newest day first) or of one day.
    pub async fn export(
        &self,
        name: &str,
        day: Option<Day>,
    ) -> Result<Vec<ExportRow>, DomainError> {
        let (campaign, results) = match day {
            Some(day) => {
                let (c, r) = self.result(name, day).await?;
                (c, vec![r])
            }
            None => self.results(name).await?,
        };
        Ok(export_rows(&campaign, &results, &self.ctx.calendar))
    }

    pub async fn stats(&self) -> Result<Stats, DomainError> {
        let active_campaigns = self.list(Some(true)).await?.len() as u64;
        let active_clients = self.ctx.storage.count_clients().await?;
        self.ctx.metrics.gauges(active_clients, active_campaigns);
        Ok(Stats {
            active_campaigns,
            active_clients,
        })
    }
}
