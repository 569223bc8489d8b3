//! Campaign management and results, for the dashboard.

use std::sync::Arc;

use super::error::ServiceError;
use super::{now, Context};
use crate::domain::campaign::{self, Campaign, CampaignInput, Status};
use crate::domain::export::{export_rows, ExportRow};
use crate::domain::sketch::Aggregation;
use crate::domain::time::{millis, Calendar, Day};
use crate::ports::{AggregationStore, CampaignStore, ClientStore, Clock, Metrics, Random};

#[derive(Clone)]
pub struct CampaignService {
    campaigns: Arc<dyn CampaignStore>,
    aggregations: Arc<dyn AggregationStore>,
    clients: Arc<dyn ClientStore>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    calendar: Calendar,
}

/// A campaign as the service hands it out: with where it stands at the instant the service
/// answered.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignView {
    pub campaign: Campaign,
    pub status: Status,
}

impl CampaignView {
    fn at(campaign: Campaign, now: chrono::DateTime<chrono::Utc>) -> Self {
        let status = campaign.status(now);
        CampaignView { campaign, status }
    }
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
    /// A campaign service reading and writing campaigns through `campaigns` (the snapshot
    /// pings share, see `catalog`), and the rest in the context's storage.
    pub fn new(ctx: &Context, campaigns: Arc<dyn CampaignStore>) -> Self {
        CampaignService {
            campaigns,
            aggregations: ctx.storage.clone(),
            clients: ctx.storage.clone(),
            metrics: ctx.metrics.clone(),
            clock: ctx.clock.clone(),
            random: ctx.random.clone(),
            calendar: ctx.calendar,
        }
    }

    pub async fn create(&self, input: CampaignInput) -> Result<CampaignView, ServiceError> {
        let fields = campaign::validate(&with_millis(input))?;
        let now = now(self.clock.as_ref());
        let campaign = fields.into_campaign(self.random.uuid(), now);
        self.campaigns.create_campaign(&campaign).await?;
        Ok(CampaignView::at(campaign, now))
    }

    async fn find(&self, name: &str) -> Result<Campaign, ServiceError> {
        self.campaigns
            .get_campaign(name)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    pub async fn get(&self, name: &str) -> Result<CampaignView, ServiceError> {
        let campaign = self.find(name).await?;
        Ok(CampaignView::at(campaign, now(self.clock.as_ref())))
    }

    /// Campaigns newest first, optionally only those (not) active now.
    pub async fn list(&self, active: Option<bool>) -> Result<Vec<CampaignView>, ServiceError> {
        let now = now(self.clock.as_ref());
        let mut campaigns: Vec<CampaignView> = self
            .campaigns
            .list_campaigns()
            .await?
            .into_iter()
            .map(|c| CampaignView::at(c, now))
            .collect();
        if let Some(active) = active {
            campaigns.retain(|c| c.status.active == active);
        }
        Ok(campaigns)
    }

    pub async fn update(
        &self,
        name: &str,
        input: CampaignInput,
    ) -> Result<CampaignView, ServiceError> {
        let current = self.find(name).await?;
        let mut input = with_millis(input);
        // Fields the deployed dashboard does not know: a replacement without them keeps them
        // (their default would unfreeze a started campaign's plausibility bound, or lower its
        // release threshold, every time the dashboard saves it).
        input.max_count = input.max_count.or(Some(current.max_count.into()));
        input.min_decrypted_count = input
            .min_decrypted_count
            .or(Some(current.min_decrypted_count.into()));
        let mut fields = campaign::validate(&input)?;
        let now = now(self.clock.as_ref());
        campaign::take_late_end_as_now(&current, &mut fields, now);
        campaign::validate_update(&current, &fields, now)?;
        let updated = fields.into_campaign(current.name, current.create_time);
        self.campaigns.replace_campaign(&updated).await?;
        Ok(CampaignView::at(updated, now))
    }

    /// Deletes a campaign with its results and sketches; an active one only with `force`.
    pub async fn delete(&self, name: &str, force: bool) -> Result<(), ServiceError> {
        let current = self.find(name).await?;
        if current.active(now(self.clock.as_ref())) && !force {
            return Err(ServiceError::Conflict(
                "campaign is active; delete it with force=true".into(),
            ));
        }
        Ok(self.campaigns.delete_campaign(name).await?)
    }

    /// The campaign's results, newest day first.
    pub async fn results(&self, name: &str) -> Result<(Campaign, Vec<Aggregation>), ServiceError> {
        let campaign = self.find(name).await?;
        let results = self.aggregations.list_aggregations(name).await?;
        Ok((campaign, results))
    }

    pub async fn result(
        &self,
        name: &str,
        day: Day,
    ) -> Result<(Campaign, Aggregation), ServiceError> {
        let campaign = self.find(name).await?;
        let result = self
            .aggregations
            .get_aggregation(name, day)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok((campaign, result))
    }

    /// Export rows of every result (newest day first) or of one day.
    pub async fn export(
        &self,
        name: &str,
        day: Option<Day>,
    ) -> Result<Vec<ExportRow>, ServiceError> {
        let (campaign, results) = match day {
            Some(day) => {
                let (c, r) = self.result(name, day).await?;
                (c, vec![r])
            }
            None => self.results(name).await?,
        };
        Ok(export_rows(&campaign, &results, &self.calendar))
    }

    pub async fn stats(&self) -> Result<Stats, ServiceError> {
        let active_campaigns = self.list(Some(true)).await?.len() as u64;
        let active_clients = self.clients.count_clients().await?;
        self.metrics.gauges(active_clients, active_campaigns);
        Ok(Stats {
            active_campaigns,
            active_clients,
        })
    }
}
