//! The sketches and their groups: creation per campaign-day, submission, the day's sums.

use async_trait::async_trait;

use super::StorageResult;
use crate::domain::sketch::{Group, Sketch, Submission};
use crate::domain::time::Day;

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
pub trait SketchStore: Send + Sync + 'static {
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
    /// submissions to one group are all counted. A raw sum (or a group count) that would not
    /// fit its integer is `Failure` and changes nothing: never a clipped sum.
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
}
