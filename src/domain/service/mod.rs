//! The services: use cases over the ports, built once from the ports and the settings. Each
//! service keeps the roles of storage it uses and nothing else.

pub mod campaigns;
pub mod catalog;
pub mod clients;
pub mod error;
pub mod jobs;
pub mod ping;
pub mod sketches;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::grouping::GroupStrategy;
use super::time::{millis, Calendar};
use crate::ports::{Clock, Geocoder, Metrics, Random, Storage};

pub use campaigns::CampaignView;
pub use error::ServiceError;

/// The ports and settings the services are built from; cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub storage: Arc<dyn Storage>,
    pub geocoder: Arc<dyn Geocoder>,
    pub metrics: Arc<dyn Metrics>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub calendar: Calendar,
    pub strategy: GroupStrategy,
    /// Inactivity after which a client is pruned.
    pub prune_threshold: chrono::Duration,
}

/// Now, to the millisecond (storage keeps milliseconds): the instant a service works at.
fn now(clock: &dyn Clock) -> DateTime<Utc> {
    millis(clock.now())
}

/// All services, built from one context.
#[derive(Clone)]
pub struct Services {
    pub campaigns: campaigns::CampaignService,
    pub clients: clients::ClientService,
    pub ping: ping::PingService,
    pub sketches: sketches::SketchService,
    pub jobs: jobs::JobService,
}

impl Services {
    pub fn new(ctx: Context) -> Self {
        // Campaign management writes through the snapshot that pings read, which those writes
        // make outdated.
        let catalog = Arc::new(catalog::CampaignCatalog::new(
            ctx.storage.clone(),
            ctx.clock.clone(),
        ));
        Services {
            campaigns: campaigns::CampaignService::new(&ctx, catalog.clone()),
            clients: clients::ClientService::new(&ctx),
            ping: ping::PingService::new(&ctx, catalog),
            sketches: sketches::SketchService::new(&ctx),
            jobs: jobs::JobService::new(&ctx),
        }
    }
}
