//! The daily ping of a browser extension: records its activity and tells it which sketches to
//! fill in. Costs one storage call whatever the number of commands, plus the listing of the
//! campaigns when the shared snapshot (see `catalog`) is refreshed.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveTime, Utc};

use super::catalog::{CampaignCatalog, Snapshot};
use super::error::ServiceError;
use super::Context;
use crate::domain::campaign::Vocabulary;
use crate::domain::client::{self, Activity};
use crate::domain::sketch::OpenSketch;
use crate::domain::time::Day;

/// What a client must do: fill in one sketch.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub sketch_name: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub vocabulary: Vocabulary,
    pub public_keys: Vec<String>,
    pub round: Day,
    pub collect_encrypted: bool,
    pub collect_raw: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PingResponse {
    pub submit: Vec<Command>,
    pub vocabulary: Vocabulary,
    pub next_ping_time: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PingInput {
    pub ip: Option<IpAddr>,
    pub extension_version: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Clone)]
pub struct PingService {
    ctx: Context,
    catalog: Arc<CampaignCatalog>,
}

impl PingService {
    pub fn new(ctx: Context) -> Self {
        Self::with_catalog(ctx, Arc::default())
    }

    /// A ping service sharing its campaign snapshot with the campaign service that invalidates it.
    pub fn with_catalog(ctx: Context, catalog: Arc<CampaignCatalog>) -> Self {
        PingService { ctx, catalog }
    }

    pub async fn ping(&self, client: &str, input: PingInput) -> Result<PingResponse, ServiceError> {
        client::validate_ping(
            input.extension_version.as_deref(),
            input.timezone.as_deref(),
        )?;
        let now = self.ctx.now();
        let activity = Activity {
            client_name: client.to_string(),
            time: now,
            country_code: input.ip.and_then(|ip| self.ctx.geocoder.country(ip)),
            extension_version: input.extension_version,
            timezone: input.timezone,
        };
        let open = self
            .ctx
            .storage
            .record_ping(&activity)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let catalog = self.catalog.snapshot(self.ctx.storage.as_ref()).await?;
        let response = self.respond(open, &catalog, now);
        self.ctx.metrics.ping_served(response.submit.len());
        Ok(response)
    }

    fn respond(
        &self,
        open: Vec<OpenSketch>,
        catalog: &Snapshot,
        now: DateTime<Utc>,
    ) -> PingResponse {
        let cal = &self.ctx.calendar;
        let campaign = |name: &str| catalog.campaigns.iter().find(|c| c.name == name);
        // The open sketches are consumed: their names and keys move into the commands.
        let submit = open
            .into_iter()
            .filter_map(|o| {
                let campaign = campaign(&o.sketch.campaign_name)?;
                let start = campaign.start_time?;
                let day = o.sketch.day;
                if cal.relative_day(start, now) >= day + campaign.window_days() {
                    return None;
                }
                Some(Command {
                    sketch_name: o.sketch.name,
                    start_time: cal.day_start(start, day),
                    end_time: cal.day_start(start, day + 1),
                    vocabulary: campaign
                        .vocabulary
                        .truncated(o.sketch.queries_count as usize),
                    public_keys: o.public_keys,
                    round: day,
                    collect_encrypted: campaign.collect_encrypted,
                    collect_raw: campaign.collect_raw,
                })
            })
            .collect();
        let tomorrow = cal.local_date(now) + Duration::days(1);
        let two_am = NaiveTime::from_hms_opt(2, 0, 0).unwrap_or(NaiveTime::MIN);
        let spread = Duration::minutes(i64::from(self.ctx.random.below(60)));
        PingResponse {
            submit,
            vocabulary: catalog.active_vocabulary(now),
            next_ping_time: cal.at(tomorrow, two_am) + spread,
        }
    }
}
