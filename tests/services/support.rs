//! A world to run scenarios in: the services over memory storage, a manual clock and seeded
//! randomness, with the reference calendar Europe/London; and clients that blind like the
//! extension does.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use num_bigint::{BigInt, Sign};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use pdd_server::adapters::geocoder::none::NoGeocoder;
use pdd_server::adapters::metrics::noop::NoopMetrics;
use pdd_server::adapters::storage::memory::MemoryStorage;
use pdd_server::domain::campaign::{Campaign, CampaignInput, QueryInput};
use pdd_server::domain::client::{Client, ClientInput};
use pdd_server::domain::crypto::ell;
use pdd_server::domain::grouping::GroupStrategy;
use pdd_server::domain::service::jobs::{JobKind, JobReport};
use pdd_server::domain::service::ping::{Command, PingInput, PingResponse};
use pdd_server::domain::service::sketches::SubmissionInput;
use pdd_server::domain::service::ServiceError;
use pdd_server::domain::service::{Context, Services};
use pdd_server::domain::time::Calendar;
use pdd_server::ports::Storage;
use pdd_server::testing::ManualClock;
use pdd_server::testing::SeededRandom;

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
        let ctx = Context {
            storage: storage.clone(),
            geocoder: Arc::new(NoGeocoder),
            metrics: Arc::new(NoopMetrics),
            clock: clock.clone(),
            random: Arc::new(SeededRandom::new(7)),
            calendar: Calendar::new(London),
            strategy,
            prune_threshold: Duration::days(15),
        };
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
            .register(ClientInput {
                public_key: Some(public_key(i)),
                browser: Some("firefox".into()),
                external_name: None,
            })
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

/// A London wall-clock time `YYYY-MM-DD HH:MM` as an instant.
pub fn london(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    London
        .from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The start of the scenarios' campaigns: day 0 is 2018-05-10 in London.
pub const START: &str = "2018-05-10 09:00";

/// `HH:MM` London time on day `d` of a campaign started at [`START`].
pub fn on_day(d: i64, hm: &str) -> DateTime<Utc> {
    let date = NaiveDate::from_ymd_opt(2018, 5, 10).unwrap() + Duration::days(d);
    london(&format!("{} {hm}", date.format("%Y-%m-%d")))
}

/// A 130-digit hexadecimal public key, distinct for each `i`.
pub fn public_key(i: usize) -> String {
    format!("04{:0128x}", i as u128 * 0x9e37_79b9_7f4a_7c15 + 1)
}

pub fn exact(q: &str) -> QueryInput {
    QueryInput {
        exact: Some(q.into()),
        terms: None,
    }
}

pub fn terms(ts: &[&str]) -> QueryInput {
    QueryInput {
        exact: None,
        terms: Some(ts.iter().map(|t| t.to_string()).collect()),
    }
}

/// A campaign starting at [`START`], vocabulary `flu`, `flu, fever`; the rest given.
pub fn campaign_input(group_size: i64, delay: i64, grace_delay: i64) -> CampaignInput {
    CampaignInput {
        display_name: Some("Flu".into()),
        vocabulary: Some(vec![exact("flu"), terms(&["flu", "fever"])]),
        start_time: Some(london(START)),
        delay: Some(delay),
        grace_delay: Some(grace_delay),
        group_size: Some(group_size),
        ..Default::default()
    }
}

/// Registers `n` clients active on day 0 and creates day 0's sketches (01:00 on day 1).
pub async fn day_zero(w: &World, n: usize) -> Vec<Client> {
    let clients = w.register_many(n).await;
    w.ping_all(&clients, on_day(0, "12:00")).await;
    w.run(JobKind::CreateSketches, on_day(1, "01:00")).await;
    clients
}

/// For a group of `n` members and vectors of `width` elements: per member, random blinding
/// factors (signed, about 77 digits) whose sum over the members is 0 modulo ℓ element-wise.
pub fn cancelling_blinds(n: usize, width: usize, rng: &mut StdRng) -> Vec<Vec<BigInt>> {
    let l = BigInt::from(ell().clone());
    let mut members = vec![Vec::with_capacity(width); n];
    for _ in 0..width {
        let mut total = BigInt::from(0);
        for member in members.iter_mut().take(n - 1) {
            let bytes: [u8; 32] = rng.gen();
            let magnitude = BigInt::from_bytes_le(Sign::Plus, &bytes) % &l;
            let v = if rng.gen_bool(0.5) {
                -magnitude
            } else {
                magnitude
            };
            total += &v;
            member.push(v);
        }
        // The last factor cancels the others; it may be shifted by a multiple of ℓ, as the
        // extension's factors are only defined modulo ℓ.
        let mut last = -(total % &l);
        if rng.gen_bool(0.5) {
            if last.sign() == Sign::Minus {
                last += &l;
            } else {
                last -= &l;
            }
        }
        members[n - 1].push(last);
    }
    members
}

/// Counts blinded by a member's factors, as the decimal strings the extension sends.
pub fn blinded(counts: &[i64], blinds: &[BigInt]) -> Vec<String> {
    counts
        .iter()
        .zip(blinds)
        .map(|(c, b)| (BigInt::from(*c) + b).to_string())
        .collect()
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
