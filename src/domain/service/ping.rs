//! The daily ping of a browser extension: records its activity and tells it which sketches to
//! fill in. Costs one storage call whatever the number of commands, plus the listing of the
//! campaigns when the shared snapshot (see `catalog`) is refreshed.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveTime, Utc};

use super::catalog::{CampaignCatalog, Snapshot};
use super::error::ServiceError;
use super::{now, Context};
use crate::domain::campaign::Vocabulary;
use crate::domain::client::{self, Activity};
use crate::domain::shared::Shared;
use crate::domain::sketch::OpenSketch;
use crate::domain::time::{Calendar, Day};
use crate::ports::{ClientStore, Clock, Geocoder, Metrics, Random};

/// What a client must do: fill in one sketch. The vocabulary and the keys are shared with the
/// other pings' commands of the same campaign snapshot and group.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub sketch_name: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub vocabulary: Shared<Vocabulary>,
    pub public_keys: Shared<Vec<String>>,
    pub round: Day,
    pub collect_encrypted: bool,
    pub collect_raw: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PingResponse {
    pub submit: Vec<Command>,
    pub vocabulary: Shared<Vocabulary>,
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
    clients: Arc<dyn ClientStore>,
    catalog: Arc<CampaignCatalog>,
    geocoder: Arc<dyn Geocoder>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    calendar: Calendar,
}

impl PingService {
    /// A ping service reading the campaigns from `catalog`'s snapshot (shared with the campaign
    /// service, whose writes pass through it).
    pub fn new(ctx: &Context, catalog: Arc<CampaignCatalog>) -> Self {
        PingService {
            clients: ctx.storage.clone(),
            catalog,
            geocoder: ctx.geocoder.clone(),
            metrics: ctx.metrics.clone(),
            clock: ctx.clock.clone(),
            random: ctx.random.clone(),
            calendar: ctx.calendar,
        }
    }

    pub async fn ping(&self, client: &str, input: PingInput) -> Result<PingResponse, ServiceError> {
        client::validate_ping(
            input.extension_version.as_deref(),
            input.timezone.as_deref(),
        )?;
        let now = now(self.clock.as_ref());
        let activity = Activity {
            client_name: client.to_string(),
            time: now,
            country_code: input.ip.and_then(|ip| self.geocoder.country(ip)),
            extension_version: input.extension_version,
            timezone: input.timezone,
        };
        let open = self
            .clients
            .record_ping(&activity)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let catalog = self.catalog.snapshot().await?;
        let response = self.respond(open, &catalog, now);
        self.metrics.ping_served(response.submit.len());
        Ok(response)
    }

    fn respond(
        &self,
        open: Vec<OpenSketch>,
        catalog: &Snapshot,
        now: DateTime<Utc>,
    ) -> PingResponse {
        let cal = &self.calendar;
        let campaign = |name: &str| {
            let i = catalog.campaigns.iter().position(|c| c.name == name)?;
            Some((i, &catalog.campaigns[i]))
        };
        // The open sketches are consumed: their names and keys move into the commands.
        let submit = open
            .into_iter()
            .filter_map(|o| {
                let (index, campaign) = campaign(&o.sketch.campaign_name)?;
                let start = campaign.start_time?;
                let day = o.sketch.day;
                if cal.relative_day(start, now) >= day + campaign.window_days() {
                    return None;
                }
                Some(Command {
                    sketch_name: o.sketch.name,
                    start_time: cal.day_start(start, day),
                    end_time: cal.day_start(start, day + 1),
                    vocabulary: catalog.campaign_vocabulary(index, o.sketch.queries_count as usize),
                    public_keys: o.public_keys,
                    round: day,
                    collect_encrypted: campaign.collect_encrypted,
                    collect_raw: campaign.collect_raw,
                })
            })
            .collect();
        let tomorrow = cal.local_date(now) + Duration::days(1);
        let two_am = NaiveTime::from_hms_opt(2, 0, 0).unwrap_or(NaiveTime::MIN);
        let spread = Duration::minutes(i64::from(self.random.below(60)));
        PingResponse {
            submit,
            vocabulary: catalog.active_vocabulary(now),
            next_ping_time: cal.at(tomorrow, two_am) + spread,
        }
    }
}
