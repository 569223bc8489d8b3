//! A world to run scenarios in: the services over memory storage, a manual clock and seeded
//! randomness, with the reference calendar Europe/London; and clients that blind like the
//! extension does.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;

use pdd_server::adapters::storage::memory::MemoryStorage;
use pdd_server::domain::campaign::{Campaign, CampaignInput};
use pdd_server::domain::client::Client;
use pdd_server::domain::grouping::GroupStrategy;
use pdd_server::domain::service::jobs::{JobKind, JobReport};
use pdd_server::domain::service::ping::{Command, PingInput, PingResponse};
use pdd_server::domain::service::sketches::SubmissionInput;
use pdd_server::domain::service::ServiceError;
use pdd_server::domain::service::{Context, Services};
use pdd_server::ports::Storage;
use pdd_server::testing::{self, client_input, context, ManualClock};
pub use pdd_server::testing::{blinded, cancelling_blinds, exact, london, terms, utc};

pub struct World {
    pub services: Services,
    ctx: Context,
    pub clock: Arc<ManualClock>,
    pub storage: Arc<dyn Storage>,
}

impl World {
    pub fn new() -> Self {
        Self::with_strategy(GroupStrategy::Naive)
    }

    pub fn with_strategy(strategy: GroupStrategy) -> Self {
        let clock = Arc::new(ManualClock::new(london("2018-05-01 09:00")));
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let ctx = context(storage.clone(), clock.clone());
        let ctx = Context { strategy, ..ctx };
        World {
            services: Services::new(ctx.clone()),
            ctx,
            clock,
            storage,
        }
    }

    /// Services of another server instance on the same storage and clock.
    pub fn other_instance(&self) -> Services {
        Services::new(self.ctx.clone())
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.clock.set(t);
    }

    pub async fn campaign(&self, input: CampaignInput) -> Campaign {
        self.services
            .campaigns
            .create(input)
            .await
            .unwrap()
            .campaign
    }

    /// Registers a client with the `i`-th public key.
    pub async fn register(&self, i: usize) -> Client {
        self.services
            .clients
            .register(client_input(i))
            .await
            .unwrap()
    }

    pub async fn register_many(&self, n: usize) -> Vec<Client> {
        let mut clients = Vec::new();
        for i in 0..n {
            clients.push(self.register(i).await);
        }
        clients
    }

    pub async fn ping(&self, client: &Client, at: DateTime<Utc>) -> PingResponse {
        self.set(at);
        self.services
            .ping
            .ping(&client.name, PingInput::default())
            .await
            .unwrap()
    }

    pub async fn ping_all(&self, clients: &[Client], at: DateTime<Utc>) {
        for c in clients {
            self.ping(c, at).await;
        }
    }

    /// Runs a job as fired at `at`, with the clock there too.
    pub async fn run(&self, job: JobKind, at: DateTime<Utc>) -> JobReport {
        self.set(at);
        let report = self.services.jobs.run(job, at).await.unwrap();
        assert!(report.failed.is_empty(), "{report:?}");
        report
    }

    /// The commands a client receives at `at` for one campaign.
    pub async fn commands(
        &self,
        client: &Client,
        campaign: &Campaign,
        at: DateTime<Utc>,
    ) -> Vec<Command> {
        let response = self.ping(client, at).await;
        let mut out = Vec::new();
        for command in response.submit {
            let sketch = self
                .storage
                .get_sketch(&command.sketch_name)
                .await
                .unwrap()
                .unwrap();
            if sketch.campaign_name == campaign.name {
                out.push(command);
            }
        }
        out
    }

    pub async fn submit(
        &self,
        sketch: &str,
        encrypted: Option<Vec<String>>,
        raw: Option<Vec<i64>>,
    ) -> Result<(), ServiceError> {
        self.services
            .sketches
            .submit(
                sketch,
                SubmissionInput {
                    encrypted_values: encrypted,
                    raw_values: raw,
                },
            )
            .await
    }
}

/// The start of the scenarios' campaigns: day 0 is 2018-05-10 in London.
pub const START: &str = "2018-05-10 09:00";

/// `HH:MM` London time on day `d` of a campaign started at [`START`].
pub fn on_day(d: i64, hm: &str) -> DateTime<Utc> {
    let date = NaiveDate::from_ymd_opt(2018, 5, 10).unwrap() + Duration::days(d);
    london(&format!("{} {hm}", date.format("%Y-%m-%d")))
}

/// A campaign starting at [`START`], vocabulary `flu`, `flu, fever`; the rest given.
pub fn campaign_input(group_size: i64, delay: i64, grace_delay: i64) -> CampaignInput {
    CampaignInput {
        delay: Some(delay),
        grace_delay: Some(grace_delay),
        ..testing::campaign_input(
            "Flu",
            vec![exact("flu"), terms(&["flu", "fever"])],
            london(START),
            group_size,
        )
    }
}

/// Registers `n` clients active on day 0 and creates day 0's sketches (01:00 on day 1).
pub async fn day_zero(w: &World, n: usize) -> Vec<Client> {
    let clients = w.register_many(n).await;
    w.ping_all(&clients, on_day(0, "12:00")).await;
    w.run(JobKind::CreateSketches, on_day(1, "01:00")).await;
    clients
}

/// The groups of a campaign-day as the extensions see them: the members' clients in the order
/// of the command's public keys, with their commands. Keyed by those public keys.
pub async fn groups_seen(
    w: &World,
    clients: &[Client],
    campaign: &Campaign,
    at: DateTime<Utc>,
) -> BTreeMap<Vec<String>, Vec<(Client, Command)>> {
    let mut groups: BTreeMap<Vec<String>, Vec<(Client, Command)>> = BTreeMap::new();
    for client in clients {
        for command in w.commands(client, campaign, at).await {
            groups
                .entry(command.public_keys.to_vec())
                .or_default()
                .push((client.clone(), command));
        }
    }
    for (keys, members) in groups.iter_mut() {
        members.sort_by_key(|(c, _)| keys.iter().position(|k| *k == c.public_key));
    }
    groups
}

/// Each member of a group submits `counts[member]` blinded with cancelling factors (and raw).
pub async fn submit_group(
    w: &World,
    members: &[(Client, Command)],
    counts: &[Vec<i64>],
    rng: &mut StdRng,
) {
    let width = counts[0].len();
    let blinds = cancelling_blinds(members.len(), width, rng);
    for (i, (_, command)) in members.iter().enumerate() {
        let values = blinded(&counts[i], &blinds[i]);
        w.submit(&command.sketch_name, Some(values), Some(counts[i].clone()))
            .await
            .unwrap();
    }
}

pub fn rng() -> StdRng {
    StdRng::seed_from_u64(2018)
}

/// The field errors of an `Invalid` answer, as `field: message` lines.
pub fn invalid(result: Result<impl std::fmt::Debug, ServiceError>) -> Vec<String> {
    match result {
        Err(ServiceError::Invalid(errors)) => errors.iter().map(|e| e.to_string()).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}
