//! The private API's overall counts.

use serde::Serialize;

use crate::domain::service::campaigns::Stats as CampaignStats;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsResponse {
    pub active_campaigns: u64,
    pub active_clients: u64,
}

impl From<CampaignStats> for StatsResponse {
    fn from(s: CampaignStats) -> Self {
        StatsResponse {
            active_campaigns: s.active_campaigns,
            active_clients: s.active_clients,
        }
    }
}
