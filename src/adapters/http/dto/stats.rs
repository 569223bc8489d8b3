//! The private API's overall counts.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::service::campaigns::Stats as CampaignStats;

/// `activeCampaigns`: campaigns active now; `activeClients`: registered clients.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Stats)]
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
