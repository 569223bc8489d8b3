//! The storage port: everything the services keep. Each method's doc is the contract every
//! adapter is tested against (see the conformance suite in `tests/storage`).
//!
//! Common failure contract: an adapter that cannot reach its backend returns
//! `StorageError::Unavailable`; any other backend fault is `StorageError::Failure`. Neither
//! leaves anything half-written.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::campaign::Campaign;
use crate::domain::client::{Activity, Client, ClientDetails};
use crate::domain::sketch::{Aggregation, Group, OpenSketch, Sketch, Submission};
use crate::domain::time::Day;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Failure(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// Position in the client list (newest first): the last client of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCursor {
    pub create_time: DateTime<Utc>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Marked submitted and folded into its group's (and day's raw) running sums.
    Accepted,
    NotFound,
    /// Already submitted earlier: nothing changed.
    AlreadySubmitted,
}

/// The sketches of one campaign-day, created together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySketches {
    pub campaign_name: String,
    pub day: Day,
    /// Groups with empty running sums and zero counts.
    pub groups: Vec<Group>,
    pub sketches: Vec<Sketch>,
}

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// A short name for logs and `server_info` (`memory`, `mysql`).
    fn kind(&self) -> &'static str;

    /// Ok when the backend answers; `Unavailable` otherwise.
    async fn health(&self) -> StorageResult<()>;

    // ---- campaigns

    /// Stores a new campaign. `AlreadyExists` when its name is taken.
    async fn create_campaign(&self, campaign: &Campaign) -> StorageResult<()>;

    /// The campaign, or `Ok(None)` when there is none of that name.
    async fn get_campaign(&self, name: &str) -> StorageResult<Option<Campaign>>;

    /// Every campaign, newest `create_time` first (ties by name).
    async fn list_campaigns(&self) -> StorageResult<Vec<Campaign>>;

    /// Replaces a campaign (same name). `NotFound` when there is none.
    async fn replace_campaign(&self, campaign: &Campaign) -> StorageResult<()>;

    /// Deletes a campaign with its aggregations, sketches, groups and raw sums, atomically.
    /// `NotFound` when there is none.
    async fn delete_campaign(&self, name: &str) -> StorageResult<()>;

    // ---- clients and activity

    /// Stores a new client. `AlreadyExists` when its name is taken.
    async fn create_client(&self, client: &Client) -> StorageResult<()>;

    /// The client with its latest activity (greatest time), or `Ok(None)`.
    async fn get_client(&self, name: &str) -> StorageResult<Option<ClientDetails>>;

    /// Replaces a client (same name; create_time kept as given). `NotFound` when there is none.
    async fn replace_client(&self, client: &Client) -> StorageResult<()>;

    /// Deletes a client and all its activity. `NotFound` when there is none. Its sketches are
    /// left to garbage collection (their groups' keys and sums do not change).
    async fn delete_client(&self, name: &str) -> StorageResult<()>;

    /// Up to `limit` clients, newest `create_time` first (ties by name descending), strictly
    /// after `after` in that order when given.
    async fn list_clients(
        &self,
        limit: usize,
        after: Option<&ClientCursor>,
    ) -> StorageResult<Vec<Client>>;

    /// Number of registered clients.
    async fn count_clients(&self) -> StorageResult<u64>;

    /// Activity of one client (or of all when `client` is `None`) with `time >= since` (all
    /// when `None`), oldest first (ties by client name). An unknown client gives an empty list.
    async fn list_activity(
        &self,
        client: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> StorageResult<Vec<Activity>>;

    /// The existing clients with at least one activity in `[from, to)`, each once, sorted by
    /// name.
    async fn active_clients(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<Client>>;

    /// `(client, time)` of every activity in `[from, to)` of the given clients, in no
    /// particular order.
    async fn activity_times(
        &self,
        clients: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StorageResult<Vec<(String, DateTime<Utc>)>>;

    /// Records a ping in one operation: when the client exists, appends `activity` and returns
    /// its unsubmitted sketches (ordered by campaign name, then day) each with its group's
    /// public keys; `Ok(None)` without recording anything when the client does not exist.
    async fn record_ping(&self, activity: &Activity) -> StorageResult<Option<Vec<OpenSketch>>>;

    /// Deletes clients created before `threshold` with no activity at or after it, with their
    /// activity. Returns how many clients were deleted.
    async fn prune_clients(&self, threshold: DateTime<Utc>) -> StorageResult<u64>;

    /// Deletes activity older than `before`. Returns how many entries were deleted.
    async fn delete_activity_before(&self, before: DateTime<Utc>) -> StorageResult<u64>;

    // ---- sketches and groups

    /// The sketch, or `Ok(None)`.
    async fn get_sketch(&self, name: &str) -> StorageResult<Option<Sketch>>;

    /// Stores a campaign-day's groups and sketches atomically, unless that campaign-day already
    /// has groups: then nothing is written and `AlreadyExists` is returned.
    async fn create_day_sketches(&self, day: &DaySketches) -> StorageResult<()>;

    /// Atomically checks and folds a submission: `NotFound` / `AlreadySubmitted` outcomes
    /// change nothing; `Accepted` marks the sketch submitted, counts it in its group
    /// (`submitted`, and `encrypted` when encrypted values are given), folds the encrypted
    /// values into the group's sum with `crate::domain::crypto::fold` and the raw values into
    /// the campaign-day's raw sum with `crate::domain::sketch::add_counts`. Concurrent
    /// submissions to one group are all counted.
    async fn submit(&self, submission: &Submission) -> StorageResult<SubmitOutcome>;

    /// The groups of a campaign-day, ordered by group id (empty when none).
    async fn day_groups(&self, campaign: &str, day: Day) -> StorageResult<Vec<Group>>;

    /// The raw running sum of a campaign-day, `Ok(None)` when nothing raw was submitted.
    async fn day_raw_sum(&self, campaign: &str, day: Day) -> StorageResult<Option<Vec<i64>>>;

    /// Deletes the sketches, groups and raw sums of `campaign` for days `< before`. Returns the
    /// number of sketches deleted.
    async fn delete_sketches_before(&self, campaign: &str, before: Day) -> StorageResult<u64>;

    /// Deletes sketches whose client or campaign no longer exists (and groups and raw sums of
    /// campaigns that no longer exist). Returns the number of sketches deleted.
    async fn delete_orphan_sketches(&self) -> StorageResult<u64>;

    // ---- aggregations

    /// Creates or replaces the aggregation of (campaign, day).
    async fn put_aggregation(&self, aggregation: &Aggregation) -> StorageResult<()>;

    /// The aggregations of a campaign, newest day first (empty when none or no campaign).
    async fn list_aggregations(&self, campaign: &str) -> StorageResult<Vec<Aggregation>>;

    /// The aggregation of (campaign, day), or `Ok(None)`.
    async fn get_aggregation(&self, campaign: &str, day: Day)
        -> StorageResult<Option<Aggregation>>;

    // ---- jobs

    /// The latest firing of `job` recorded complete, or `Ok(None)`.
    async fn last_completed(&self, job: &str) -> StorageResult<Option<DateTime<Utc>>>;

    /// Claims the firing `firing` of `job` for `owner` until `lease_until`. Returns false
    /// (claiming nothing) when that firing or a later one is recorded complete, or when another
    /// owner holds an unexpired claim (`lease_until` of theirs after `now`); true otherwise.
    async fn claim_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StorageResult<bool>;

    /// Records `firing` of `job` complete (keeping the later of it and any recorded firing)
    /// and releases `owner`'s claim.
    async fn complete_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
    ) -> StorageResult<()>;

    /// Releases `owner`'s claim on `job` without recording completion (the run failed).
    async fn release_job(&self, job: &str, owner: &str) -> StorageResult<()>;
}
