//! The four nightly jobs. Each is idempotent, runs for every campaign even when one fails, logs
//! one line per campaign and reports what it did.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use tracing::{debug, info, warn};

use super::error::ServiceError;
use super::{now, Context};
use crate::domain::campaign::Campaign;
use crate::domain::grouping::{self, GroupStrategy};
pub use crate::domain::job::JobKind;
use crate::domain::job::{run_error, JobRun, Outcome};
use crate::domain::sketch::{self, Group, Sketch};
use crate::domain::time::{Calendar, Day};
use crate::ports::storage::DaySketches;
use crate::ports::{Clock, Metrics, Random, Storage, StorageError};

/// Activity is kept at least this long (the frequency strategy looks back up to 60 days).
pub const ACTIVITY_RETENTION_DAYS: i64 = 61;
/// Job runs are kept this long (the console lists the last 100 of each daily job).
pub const JOB_RUN_RETENTION_DAYS: i64 = 120;
/// The clients counted per day are kept this long (the console shows 90 days).
pub const CLIENT_DAY_RETENTION_DAYS: i64 = 366;
/// Garbage collection counts the clients of yesterday, and of any day not counted yet among
/// the days before it whose activity is still kept.
pub const CLIENT_DAYS_LOOK_BACK: i64 = ACTIVITY_RETENTION_DAYS - 1;

/// What a job run did: counters by name, and the campaigns it failed for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    pub counts: BTreeMap<&'static str, u64>,
    pub failed: Vec<String>,
    /// True when the run stopped early at a safe point because of shutdown.
    pub interrupted: bool,
}

impl JobReport {
    fn add(&mut self, key: &'static str, n: u64) {
        *self.counts.entry(key).or_default() += n;
    }

    pub fn get(&self, key: &str) -> u64 {
        self.counts.get(key).copied().unwrap_or(0)
    }

    pub fn items(&self) -> u64 {
        self.counts.values().sum()
    }

    /// How the run that made this report ended.
    pub fn outcome(&self) -> Outcome {
        if self.interrupted {
            Outcome::Interrupted
        } else if !self.failed.is_empty() {
            Outcome::Failed
        } else {
            Outcome::Ok
        }
    }
}

#[derive(Clone)]
pub struct JobService {
    /// The jobs use every role; of the job ledger, only the history of runs (claims are the
    /// scheduler's).
    storage: Arc<dyn Storage>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    calendar: Calendar,
    strategy: GroupStrategy,
    prune_threshold: Duration,
    stopping: Arc<AtomicBool>,
    /// The server process the runs are recorded as run by.
    instance: Arc<str>,
}

impl JobService {
    pub fn new(ctx: &Context) -> Self {
        JobService {
            storage: ctx.storage.clone(),
            metrics: ctx.metrics.clone(),
            clock: ctx.clock.clone(),
            random: ctx.random.clone(),
            calendar: ctx.calendar,
            strategy: ctx.strategy,
            prune_threshold: ctx.prune_threshold,
            stopping: Arc::new(AtomicBool::new(false)),
            instance: Arc::from("local"),
        }
    }

    /// The same service recording its runs as run by `instance` (the scheduler's owner id;
    /// `local` until named).
    pub fn with_instance(mut self, instance: &str) -> Self {
        self.instance = Arc::from(instance);
        self
    }

    /// The server process the runs are recorded as run by.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The last `limit` runs of `job` recorded by any instance, newest first.
    pub async fn runs(&self, job: JobKind, limit: usize) -> Result<Vec<JobRun>, ServiceError> {
        Ok(self.storage.job_runs(job.name(), limit).await?)
    }

    /// Asks running jobs to stop at the next safe point (between campaigns).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Runs `job` as if fired at `at`, and records the run in the history (a run that cannot be
    /// recorded is logged and runs all the same). Fails only when the campaigns cannot be
    /// listed; a failure for one campaign is logged, reported in `failed` and does not stop
    /// the others.
    pub async fn run(&self, job: JobKind, at: DateTime<Utc>) -> Result<JobReport, ServiceError> {
        let started_at = now(self.clock.as_ref());
        let started = self.clock.monotonic();
        let result = match job {
            JobKind::AggregateSketches => self.per_campaign(job, at).await,
            JobKind::CreateSketches => self.per_campaign(job, at).await,
            JobKind::PruneClients => self.prune(at).await,
            JobKind::CollectGarbage => self.collect_garbage(at).await,
        };
        let elapsed = self.clock.monotonic().saturating_sub(started);
        match &result {
            Ok(report) => {
                self.metrics.job_run(
                    job.name(),
                    report.failed.is_empty(),
                    elapsed,
                    report.items(),
                );
                info!(job = job.name(), firing = %at, elapsed_ms = elapsed.as_millis() as u64,
                      counts = ?report.counts, failed = report.failed.len(), "job run finished");
            }
            Err(e) => {
                self.metrics.job_run(job.name(), false, elapsed, 0);
                tracing::error!(job = job.name(), firing = %at, error = %e, "job run failed");
            }
        }
        let run = JobRun {
            job: job.name().to_string(),
            firing: at,
            instance: self.instance.to_string(),
            started: started_at,
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            outcome: result.as_ref().map_or(Outcome::Error, JobReport::outcome),
            counts: result.as_ref().map_or_else(
                |_| BTreeMap::new(),
                |r| r.counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ),
            failed: result
                .as_ref()
                .map_or_else(|_| Vec::new(), |r| r.failed.clone()),
            error: result.as_ref().err().map(|e| run_error(&e.to_string())),
        };
        if let Err(e) = self.storage.record_job_run(&run).await {
            // A run that failed on the storage was logged as such: its record failing too is
            // no news.
            if result.is_ok() {
                warn!(job = job.name(), firing = %at, error = %e, "cannot record the job run in the history");
            } else {
                tracing::debug!(job = job.name(), firing = %at, error = %e, "cannot record the job run in the history");
            }
        }
        result
    }

    async fn per_campaign(
        &self,
        job: JobKind,
        at: DateTime<Utc>,
    ) -> Result<JobReport, ServiceError> {
        let mut report = JobReport::default();
        for campaign in self.storage.list_campaigns().await? {
            if self.stopping() {
                report.interrupted = true;
                break;
            }
            let outcome = match job {
                JobKind::CreateSketches => self.create_sketches(&campaign, at, &mut report).await,
                _ => self.aggregate(&campaign, at, &mut report).await,
            };
            if let Err(e) = outcome {
                warn!(job = job.name(), campaign = %campaign.name, error = %e, "job failed for campaign");
                report.failed.push(campaign.name.clone());
            }
        }
        Ok(report)
    }

    /// Creates the sketches of yesterday (day `relative_day − 1`) for one campaign.
    async fn create_sketches(
        &self,
        campaign: &Campaign,
        at: DateTime<Utc>,
        report: &mut JobReport,
    ) -> Result<(), ServiceError> {
        let cal = &self.calendar;
        let Some(start) = campaign.start_time else {
            return Ok(());
        };
        let day = cal.relative_day(start, at) - 1;
        if day < 0 || !campaign.collects_day(cal, day) {
            return Ok(());
        }
        let storage = &self.storage;
        let (from, to) = (cal.day_start(start, day), cal.day_start(start, day + 1));
        let active = storage.active_clients(from, to).await?;
        let mut participants: Vec<String> = active.iter().map(|c| c.name.clone()).collect();
        if let Some(rate) = campaign.sampling_rate.filter(|r| *r < 1.0) {
            participants.retain(|_| self.random.chance(rate));
        }
        if self.strategy == GroupStrategy::Frequency {
            let window = grouping::frequency_window(day);
            if window > 0 {
                let times = storage
                    .activity_times(&participants, cal.day_start(start, day - window), from)
                    .await?;
                let mut days: HashMap<String, HashSet<Day>> = HashMap::new();
                for (client, t) in times {
                    days.entry(client)
                        .or_default()
                        .insert(cal.relative_day(start, t));
                }
                participants =
                    grouping::frequency_filter(&participants, &days, window, campaign.delay);
            }
        }
        self.random.shuffle(&mut participants);
        let keys: HashMap<&str, &str> = active
            .iter()
            .map(|c| (c.name.as_str(), c.public_key.as_str()))
            .collect();
        let group_size = usize::try_from(campaign.group_size).unwrap_or(2);
        let sizes = grouping::balanced_sizes(participants.len(), group_size);
        if sizes.is_empty() {
            info!(job = "create-sketches", campaign = %campaign.name, day,
                  participants = participants.len(), "too few participants to form a group: no sketch");
            report.add("lone", participants.len() as u64);
            return Ok(());
        }
        let queries_count = campaign.vocabulary.queries.len() as u32;
        let now = now(self.clock.as_ref());
        let mut day_sketches = DaySketches {
            campaign_name: campaign.name.clone(),
            day,
            groups: Vec::with_capacity(sizes.len()),
            sketches: Vec::with_capacity(participants.len()),
        };
        // Cut the shuffled participants into groups in order, as `grouping::cut` does, moving
        // the names rather than copying them (a campaign-day may have 100,000 participants).
        let mut rest = participants.into_iter();
        for (id, size) in sizes.into_iter().enumerate() {
            let mut members: Vec<String> = rest.by_ref().take(size).collect();
            members.sort();
            let id = id as u32;
            day_sketches.groups.push(Group {
                campaign_name: campaign.name.clone(),
                day,
                group: id,
                public_keys: members
                    .iter()
                    .map(|m| {
                        keys.get(m.as_str())
                            .copied()
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect(),
                queries_count,
                submitted: 0,
                encrypted: 0,
                sum: Vec::new(),
            });
            for member in members {
                day_sketches.sketches.push(Sketch {
                    name: self.random.uuid(),
                    create_time: now,
                    client_name: member,
                    campaign_name: campaign.name.clone(),
                    day,
                    group: id,
                    queries_count,
                    submitted: false,
                });
            }
        }
        match storage.create_day_sketches(&day_sketches).await {
            Ok(()) => {
                info!(job = "create-sketches", campaign = %campaign.name, day,
                      sketches = day_sketches.sketches.len(), groups = day_sketches.groups.len(),
                      "sketches created");
                report.add("created", day_sketches.sketches.len() as u64);
                report.add("groups", day_sketches.groups.len() as u64);
            }
            Err(StorageError::AlreadyExists) => {
                info!(job = "create-sketches", campaign = %campaign.name, day,
                      "sketches already exist for this day: nothing to do");
                report.add("skipped", 1);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Aggregates the days of one campaign due at `at`, within the grace window.
    async fn aggregate(
        &self,
        campaign: &Campaign,
        at: DateTime<Utc>,
        report: &mut JobReport,
    ) -> Result<(), ServiceError> {
        let cal = &self.calendar;
        let Some(start) = campaign.start_time else {
            return Ok(());
        };
        let end_day = cal.relative_day(start, at) - 2 - Day::from(campaign.delay);
        if end_day < 0 {
            return Ok(());
        }
        let first = (end_day - Day::from(campaign.grace_delay)).max(0);
        let last = campaign.last_day(cal).map_or(end_day, |l| l.min(end_day));
        let storage = &self.storage;
        for day in first..=last {
            let groups = storage.day_groups(&campaign.name, day).await?;
            let raw = if campaign.collect_raw {
                storage.day_raw_sum(&campaign.name, day).await?
            } else {
                None
            };
            let out = match sketch::aggregate(campaign, day, &groups, raw.as_deref()) {
                Ok(out) => out,
                Err(e) => {
                    // Never a clipped number: the day keeps its previous result, if any.
                    tracing::error!(job = "aggregate-sketches", campaign = %campaign.name, day,
                                    error = %e, "day not aggregated");
                    return Err(ServiceError::Failure(format!("day {day}: {e}")));
                }
            };
            for g in &out.rejected_groups {
                warn!(campaign = %campaign.name, day, group = g,
                      "group rejected: its sum decrypts to a count below 0 or above members × \
                       maxCount (a member sent garbage); left out of the day's values");
            }
            storage.put_aggregation(&out.aggregation).await?;
            let stats = out.aggregation.stats;
            info!(job = "aggregate-sketches", campaign = %campaign.name, day,
                  active = stats.active_count, submitted = stats.submitted_count,
                  decrypted = stats.decrypted_count, rejected = stats.rejected_count,
                  withheld = out.aggregation.withheld, "day aggregated");
            report.add("aggregated", 1);
        }
        Ok(())
    }

    async fn prune(&self, at: DateTime<Utc>) -> Result<JobReport, ServiceError> {
        let mut report = JobReport::default();
        let pruned = self
            .storage
            .prune_clients(at - self.prune_threshold)
            .await?;
        info!(job = "prune-clients", pruned, "inactive clients pruned");
        report.add("pruned", pruned);
        Ok(report)
    }

    async fn collect_garbage(&self, at: DateTime<Utc>) -> Result<JobReport, ServiceError> {
        let cal = self.calendar;
        let storage = &self.storage;
        let mut report = JobReport::default();
        for campaign in storage.list_campaigns().await? {
            if self.stopping() {
                report.interrupted = true;
                break;
            }
            let Some(start) = campaign.start_time else {
                continue;
            };
            let before = cal.relative_day(start, at) - campaign.window_days();
            if before <= 0 {
                continue;
            }
            match storage.delete_sketches_before(&campaign.name, before).await {
                Ok(n) => {
                    info!(job = "collect-garbage", campaign = %campaign.name, before, deleted = n,
                          "closed sketches deleted");
                    report.add("sketches", n);
                }
                Err(e) => {
                    warn!(job = "collect-garbage", campaign = %campaign.name, error = %e,
                          "job failed for campaign");
                    report.failed.push(campaign.name.clone());
                }
            }
        }
        let orphans = storage.delete_orphan_sketches().await?;
        report.add("orphans", orphans);
        // The clients of each day are counted before that day's activity goes.
        let counted = self.count_client_days(at, &mut report).await?;
        let retention = Duration::days(ACTIVITY_RETENTION_DAYS).max(self.prune_threshold);
        let activity = storage.delete_activity_before(at - retention).await?;
        report.add("activity", activity);
        let today = cal.local_date(at);
        storage
            .delete_client_days_before(today - Duration::days(CLIENT_DAY_RETENTION_DAYS))
            .await?;
        let runs = storage
            .delete_job_runs_before(at - Duration::days(JOB_RUN_RETENTION_DAYS))
            .await?;
        report.add("jobRuns", runs);
        info!(
            job = "collect-garbage",
            orphans,
            activity,
            client_days = counted,
            job_runs = runs,
            "orphan sketches, old activity and old job runs deleted; clients of the day counted"
        );
        Ok(report)
    }

    /// Counts the clients of the local day before `at`'s (again when counted already: a run
    /// as of an earlier time may have counted it unfinished), and of each day before it within
    /// `CLIENT_DAYS_LOOK_BACK` not counted yet (missed while no server ran), oldest first;
    /// stops between two days on shutdown. Returns how many days were counted.
    async fn count_client_days(
        &self,
        at: DateTime<Utc>,
        report: &mut JobReport,
    ) -> Result<u64, ServiceError> {
        let cal = self.calendar;
        let yesterday = cal.local_date(at) - Duration::days(1);
        let first = yesterday - Duration::days(CLIENT_DAYS_LOOK_BACK - 1);
        let counted: HashSet<NaiveDate> = self
            .storage
            .client_days(first, yesterday)
            .await?
            .into_iter()
            .map(|d| d.date)
            .collect();
        let mut n = 0;
        for date in first.iter_days().take_while(|d| *d <= yesterday) {
            if date != yesterday && counted.contains(&date) {
                continue;
            }
            if self.stopping() {
                report.interrupted = true;
                break;
            }
            let (from, to) = (
                cal.at(date, NaiveTime::MIN),
                cal.at(date + Duration::days(1), NaiveTime::MIN),
            );
            let (day, _) = self.storage.count_client_day(date, from, to).await?;
            // Yesterday's count is the night's news; days filled in after a gap (60 of them
            // on a first start) would bury the log, so they go at DEBUG.
            if date == yesterday {
                info!(job = "collect-garbage", %date, registrations = day.registrations,
                      active = day.active, "clients of the day counted");
            } else {
                debug!(job = "collect-garbage", %date, registrations = day.registrations,
                       active = day.active, "clients of a missed day counted");
            }
            n += 1;
        }
        report.add("clientDays", n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_of_reports() {
        let mut report = JobReport::default();
        assert_eq!(report.outcome(), Outcome::Ok);
        report.failed.push("c".into());
        assert_eq!(report.outcome(), Outcome::Failed);
        report.interrupted = true;
        assert_eq!(report.outcome(), Outcome::Interrupted);
    }
}
