//! The services: use cases over the ports, wired once by the application.

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

pub use error::ServiceError;

/// The ports and settings every service reads; cheap to clone.
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

impl Context {
    /// Now, to the millisecond.
    pub fn now(&self) -> DateTime<Utc> {
        millis(self.clock.now())
    }
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
        // Pings reuse a snapshot of the campaigns that campaign writes invalidate.
        let catalog = Arc::new(catalog::CampaignCatalog::default());
        Services {
            campaigns: campaigns::CampaignService::with_catalog(ctx.clone(), catalog.clone()),
            clients: clients::ClientService::new(ctx.clone()),
            ping: ping::PingService::with_catalog(ctx.clone(), catalog),
            sketches: sketches::SketchService::new(ctx.clone()),
            jobs: jobs::JobService::new(ctx),
        }
    }
}
