//! Test doubles behind the ports: a geocoder that knows one country per address, and memory
//! storage that can be switched off or broken.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use pdd_server::adapters::storage::memory::MemoryStorage;
use pdd_server::domain::campaign::Campaign;
use pdd_server::domain::client::{Activity, Client, ClientBreakdown, ClientDay, ClientDetails};
use pdd_server::domain::job::JobRun;
use pdd_server::domain::sketch::{Aggregation, Group, Sketch, Submission};
use pdd_server::domain::time::Day;
use pdd_server::ports::storage::{ClientCursor, DaySketches, SubmitOutcome};
use pdd_server::ports::{
    AggregationStore, CampaignStore, ClientDayStore, ClientStore, Geocoder, JobLedger, SketchStore,
    Storage, StorageError, StorageResult,
};

/// Knows one country per address.
pub struct MapGeocoder(pub HashMap<IpAddr, &'static str>);

impl Geocoder for MapGeocoder {
    fn kind(&self) -> &'static str {
        "map"
    }

    fn country(&self, ip: IpAddr) -> Option<String> {
        self.0.get(&ip).map(|c| c.to_string())
    }
}

/// Memory storage that can be switched off (every call answers `Unavailable`, as a database
/// that went away) or broken (every call answers `Failure`, as a backend fault), or whose
/// campaign listing alone is broken (the jobs cannot run; everything else works).
#[derive(Default)]
pub struct SwitchableStorage {
    pub inner: MemoryStorage,
    down: AtomicBool,
    broken: AtomicBool,
    listing_broken: AtomicBool,
    /// When set, client list reads after this many fail with `Unavailable`.
    client_lists_left: std::sync::Mutex<Option<usize>>,
}

impl SwitchableStorage {
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn set_broken(&self, broken: bool) {
        self.broken.store(broken, Ordering::SeqCst);
    }

    pub fn set_listing_broken(&self, broken: bool) {
        self.listing_broken.store(broken, Ordering::SeqCst);
    }

    /// Lets `reads` more client list reads succeed, then fails the others (a database lost in
    /// the middle of a long list).
    pub fn fail_client_lists_after(&self, reads: usize) {
        *self.client_lists_left.lock().unwrap() = Some(reads);
    }

    fn up(&self) -> StorageResult<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(StorageError::Unavailable(
                "connection refused (127.0.0.1:3306)".into(),
            ))
        } else if self.broken.load(Ordering::SeqCst) {
            Err(StorageError::Failure("deadlock found (errno 1213)".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Storage for SwitchableStorage {
    fn kind(&self) -> &'static str {
        "switchable-memory"
    }
    async fn health(&self) -> StorageResult<()> {
        self.up()?;
        self.inner.health().await
    }
    async fn schema_version(&self) -> StorageResult<Option<u32>> {
        self.up()?;
        self.inner.schema_version().await
    }
}

#[async_trait]
impl ClientDayStore for SwitchableStorage {
    async fn count_client_day(
        &self,
        date: NaiveDate,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<(ClientDay, ClientBreakdown)> {
        self.up()?;
        self.inner.count_client_day(date, from, to).await
    }
    async fn client_days(&self, from: NaiveDate, to: NaiveDate) -> StorageResult<Vec<ClientDay>> {
        self.up()?;
        self.inner.client_days(from, to).await
    }
    async fn client_breakdown(&self, date: NaiveDate) -> StorageResult<Option<ClientBreakdown>> {
        self.up()?;
        self.inner.client_breakdown(date).await
    }
    async fn delete_client_days_before(&self, before: NaiveDate) -> StorageResult<u64> {
        self.up()?;
        self.inner.delete_client_days_before(before).await
    }
}

#[async_trait]
impl CampaignStore for SwitchableStorage {
    async fn create_campaign(&self, c: &Campaign) -> StorageResult<()> {
        self.up()?;
        self.inner.create_campaign(c).await
    }
    async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>> {
        self.up()?;
        self.inner.get_campaign(name).await
    }
    async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>> {
        self.up()?;
        if self.listing_broken.load(Ordering::SeqCst) {
            return Err(StorageError::Failure(
                "table campaigns is marked as crashed".into(),
            ));
        }
        self.inner.list_campaigns().await
    }
    async fn replace_campaign(&self, c: &Campaign) -> StorageResult<()> {
        self.up()?;
        self.inner.replace_campaign(c).await
    }
    async fn delete_campaign(&self, name: &str) -> StorageResult<()> {
        self.up()?;
        self.inner.delete_campaign(name).await
    }
}

#[async_trait]
impl ClientStore for SwitchableStorage {
    async fn create_client(&self, c: &Client) -> StorageResult<()> {
        self.up()?;
        self.inner.create_client(c).await
    }
    async fn get_client(&self, name: &str) -> StorageResult<Option<ClientDetails>> {
        self.up()?;
        self.inner.get_client(name).await
    }
    async fn replace_client(&self, c: &Client) -> StorageResult<()> {
        self.up()?;
        self.inner.replace_client(c).await
    }
    async fn delete_client(&self, name: &str) -> StorageResult<()> {
        self.up()?;
        self.inner.delete_client(name).await
    }
    async fn list_clients(
        &self,
        limit: usize,
        after: Option<&ClientCursor>,
    ) -> StorageResult<Vec<Client>> {
        self.up()?;
        if let Some(left) = self.client_lists_left.lock().unwrap().as_mut() {
            if *left == 0 {
                return Err(StorageError::Unavailable("connection lost".into()));
            }
            *left -= 1;
        }
        self.inner.list_clients(limit, after).await
    }
    async fn count_clients(&self) -> StorageResult<u64> {
        self.up()?;
        self.inner.count_clients().await
    }
    async fn list_activity(
        &self,
        client: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> StorageResult<Vec<Activity>> {
        self.up()?;
        self.inner.list_activity(client, since).await
    }
    async fn active_clients(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<Client>> {
        self.up()?;
        self.inner.active_clients(from, to).await
    }
    async fn activity_times(
        &self,
        clients: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<(String, DateTime<Utc>)>> {
        self.up()?;
        self.inner.activity_times(clients, from, to).await
    }
    async fn record_ping(
        &self,
        a: &Activity,
    ) -> StorageResult<Option<Vec<pdd_server::domain::sketch::OpenSketch>>> {
        self.up()?;
        self.inner.record_ping(a).await
    }
    async fn prune_clients(&self, threshold: DateTime<Utc>) -> StorageResult<u64> {
        self.up()?;
        self.inner.prune_clients(threshold).await
    }
    async fn delete_activity_before(&self, before: DateTime<Utc>) -> StorageResult<u64> {
        self.up()?;
        self.inner.delete_activity_before(before).await
    }
}

#[async_trait]
impl SketchStore for SwitchableStorage {
    async fn get_sketch(&self, name: &str) -> StorageResult<Option<Sketch>> {
        self.up()?;
        self.inner.get_sketch(name).await
    }
    async fn create_day_sketches(&self, day: &DaySketches) -> StorageResult<()> {
        self.up()?;
        self.inner.create_day_sketches(day).await
    }
    async fn submit(&self, s: &Submission) -> StorageResult<SubmitOutcome> {
        self.up()?;
        self.inner.submit(s).await
    }
    async fn day_groups(&self, campaign: &str, day: Day) -> StorageResult<Vec<Group>> {
        self.up()?;
        self.inner.day_groups(campaign, day).await
    }
    async fn day_raw_sum(&self, campaign: &str, day: Day) -> StorageResult<Option<Vec<i64>>> {
        self.up()?;
        self.inner.day_raw_sum(campaign, day).await
    }
    async fn delete_sketches_before(&self, campaign: &str, before: Day) -> StorageResult<u64> {
        self.up()?;
        self.inner.delete_sketches_before(campaign, before).await
    }
    async fn delete_orphan_sketches(&self) -> StorageResult<u64> {
        self.up()?;
        self.inner.delete_orphan_sketches().await
    }
}

#[async_trait]
impl AggregationStore for SwitchableStorage {
    async fn put_aggregation(&self, a: &Aggregation) -> StorageResult<()> {
        self.up()?;
        self.inner.put_aggregation(a).await
    }
    async fn list_aggregations(&self, campaign: &str) -> StorageResult<Vec<Aggregation>> {
        self.up()?;
        self.inner.list_aggregations(campaign).await
    }
    async fn get_aggregation(
        &self,
        campaign: &str,
        day: Day,
    ) -> StorageResult<Option<Aggregation>> {
        self.up()?;
        self.inner.get_aggregation(campaign, day).await
    }
}

#[async_trait]
impl JobLedger for SwitchableStorage {
    async fn last_completed(&self, job: &str) -> StorageResult<Option<DateTime<Utc>>> {
        self.up()?;
        self.inner.last_completed(job).await
    }
    async fn claim_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StorageResult<bool> {
        self.up()?;
        self.inner
            .claim_job(job, firing, owner, now, lease_until)
            .await
    }
    async fn complete_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
    ) -> StorageResult<()> {
        self.up()?;
        self.inner.complete_job(job, firing, owner).await
    }
    async fn release_job(&self, job: &str, owner: &str) -> StorageResult<()> {
        self.up()?;
        self.inner.release_job(job, owner).await
    }
    async fn record_job_run(&self, run: &JobRun) -> StorageResult<()> {
        self.up()?;
        self.inner.record_job_run(run).await
    }
    async fn job_runs(&self, job: &str, limit: usize) -> StorageResult<Vec<JobRun>> {
        self.up()?;
        self.inner.job_runs(job, limit).await
    }
    async fn delete_job_runs_before(&self, before: DateTime<Utc>) -> StorageResult<u64> {
        self.up()?;
        self.inner.delete_job_runs_before(before).await
    }
}
