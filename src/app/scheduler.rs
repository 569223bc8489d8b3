//! Fires the four nightly jobs at their local times in the reference time zone, by the injected
//! clock. Each firing is claimed in storage first, so that with several instances on one
//! database exactly one runs it; a firing missed while no instance ran is caught up at start-up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::domain::service::jobs::{JobKind, JobService};
use crate::domain::time::Calendar;
use crate::ports::{Clock, Storage};

/// How long a claim lasts in real time; renewed every third of it while the job runs. Also how
/// long another instance waits before taking over the firing of one that died mid-run.
const LEASE: Duration = Duration::from_secs(60);
/// First wait before retrying a failed firing; doubles up to `MAX_RETRY` (real time), and never
/// past the job's next firing.
const FIRST_RETRY: Duration = Duration::from_secs(30);
const MAX_RETRY: Duration = Duration::from_secs(30 * 60);

/// The scheduler of one server process.
pub struct Scheduler {
    pub jobs: JobService,
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub calendar: Calendar,
    /// How many clock seconds pass per real second (1, or 288 in testing mode).
    pub speed: u32,
    /// Who claims firings: unique per process.
    pub owner: String,
    /// Longest real sleep between looks at the clock (so a clock that jumps is noticed).
    pub max_nap: Duration,
}

/// What happened to one attempt at a firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// Ran to the end and recorded complete.
    Done,
    /// Already complete (here or elsewhere).
    Complete,
    /// Another instance holds an unexpired claim: look again when it may have lapsed.
    HeldElsewhere,
    /// Failed (storage, or some campaigns): released, to be retried.
    Failed,
    /// Stopped at a safe point for shutdown: released, caught up at the next start.
    Interrupted,
}

impl Scheduler {
    fn speed(&self) -> u32 {
        self.speed.max(1)
    }

    /// Clock time corresponding to a real duration.
    fn clock_span(&self, real: Duration) -> TimeDelta {
        TimeDelta::from_std(real * self.speed()).unwrap_or(TimeDelta::MAX)
    }

    /// Real time corresponding to a span of clock time (zero when negative).
    fn real_span(&self, span: TimeDelta) -> Duration {
        span.to_std().unwrap_or_default() / self.speed()
    }

    /// Runs until `stop` is cancelled: catch-up first, then every firing as it comes. A job that
    /// is running when `stop` fires is let reach its safe point (`JobService::stop` asks it to).
    pub async fn run(self, stop: CancellationToken) {
        info!(owner = %self.owner, speed = self.speed(), "scheduler started");
        // A database still connecting at start-up would fail the catch-up's claims and put them
        // off by a whole retry interval: wait for it first.
        if !self.storage_ready(&stop).await {
            info!("scheduler stopped");
            return;
        }
        // Next attempt per job, and the retry backoff of a job whose firing failed.
        let mut wake: BTreeMap<JobKind, DateTime<Utc>> = BTreeMap::new();
        let mut backoff: BTreeMap<JobKind, Duration> = BTreeMap::new();
        let now = self.clock.now();
        // Catch-up: a missed firing is due at once (the earliest first, see below).
        for job in JobKind::ALL {
            let latest = job.latest_firing(&self.calendar, now);
            match self.storage.last_completed(job.name()).await {
                Ok(Some(done)) if done >= latest => {
                    wake.insert(job, job.next_firing(&self.calendar, latest));
                }
                Ok(last) => {
                    info!(job = job.name(), firing = %latest,
                          last_completed = ?last.map(|t| t.to_rfc3339()),
                          "catching up a missed firing");
                    wake.insert(job, latest);
                }
                Err(e) => {
                    warn!(job = job.name(), error = %e,
                          "cannot read the last completed firing: catching up to be safe");
                    wake.insert(job, latest);
                }
            }
        }
        loop {
            let Some((&job, &at)) = wake.iter().min_by_key(|(job, at)| (**at, **job)) else {
                return;
            };
            if !self.sleep_until(at, &stop).await {
                break;
            }
            // The firing due now; when woken late (busy, suspended, retrying) only the latest
            // one is run, as at start-up.
            let firing = job.latest_firing(&self.calendar, self.clock.now());
            let next = job.next_firing(&self.calendar, firing);
            match self.attempt(job, firing, &stop).await {
                Attempt::Done | Attempt::Complete => {
                    backoff.remove(&job);
                    wake.insert(job, next);
                }
                Attempt::HeldElsewhere => {
                    let recheck = self.clock.now() + self.clock_span(LEASE);
                    wake.insert(job, recheck.min(next));
                }
                Attempt::Failed => {
                    let wait = *backoff.get(&job).unwrap_or(&FIRST_RETRY);
                    backoff.insert(job, (wait * 2).min(MAX_RETRY));
                    let retry = (self.clock.now() + self.clock_span(wait)).min(next);
                    info!(job = job.name(), firing = %firing, retry_at = %retry,
                          "job firing failed: will retry");
                    wake.insert(job, retry);
                }
                Attempt::Interrupted => break,
            }
            if stop.is_cancelled() {
                break;
            }
        }
        info!("scheduler stopped");
    }

    /// Waits until the storage answers; false when `stop` fired first.
    async fn storage_ready(&self, stop: &CancellationToken) -> bool {
        let mut wait = Duration::from_millis(50);
        let mut told = false;
        loop {
            match self.storage.health().await {
                Ok(()) => return true,
                Err(e) if !told => {
                    info!(error = %e, "waiting for the storage before catching up missed firings");
                    told = true;
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = stop.cancelled() => return false,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Sleeps until the clock reads `at`; false when `stop` fired first.
    async fn sleep_until(&self, at: DateTime<Utc>, stop: &CancellationToken) -> bool {
        loop {
            if stop.is_cancelled() {
                return false;
            }
            let now = self.clock.now();
            if now >= at {
                return true;
            }
            // Round up to the millisecond so that the clock has surely reached `at`.
            let nap = (self.real_span(at - now) + Duration::from_millis(1)).min(self.max_nap);
            tokio::select! {
                _ = stop.cancelled() => return false,
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// Claims, runs and records one firing.
    async fn attempt(
        &self,
        job: JobKind,
        firing: DateTime<Utc>,
        stop: &CancellationToken,
    ) -> Attempt {
        let name = job.name();
        let lease_until = |now: DateTime<Utc>| now + self.clock_span(LEASE);
        let now = self.clock.now();
        match self
            .storage
            .claim_job(name, firing, &self.owner, now, lease_until(now))
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return match self.storage.last_completed(name).await {
                    Ok(Some(done)) if done >= firing => {
                        debug!(job = name, firing = %firing, "firing already complete");
                        Attempt::Complete
                    }
                    _ => {
                        info!(job = name, firing = %firing, "firing claimed by another instance");
                        Attempt::HeldElsewhere
                    }
                };
            }
            Err(e) => {
                warn!(job = name, firing = %firing, error = %e, "cannot claim the job firing");
                return Attempt::Failed;
            }
        }
        if stop.is_cancelled() {
            self.release(job).await;
            return Attempt::Interrupted;
        }
        let run = self.jobs.run(job, firing);
        tokio::pin!(run);
        // Renew the claim while the job runs, so a long run keeps it.
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                _ = tokio::time::sleep(LEASE / 3) => {
                    let now = self.clock.now();
                    match self.storage.claim_job(name, firing, &self.owner, now, lease_until(now)).await {
                        Ok(true) => {}
                        Ok(false) => warn!(job = name, "job claim lost while running (the run goes on; jobs are idempotent)"),
                        Err(e) => warn!(job = name, error = %e, "cannot renew the job claim"),
                    }
                }
            }
        };
        let outcome = match &result {
            Ok(report) if report.interrupted => Attempt::Interrupted,
            Ok(report) if report.failed.is_empty() => Attempt::Done,
            _ => Attempt::Failed,
        };
        if outcome == Attempt::Done {
            if let Err(e) = self.storage.complete_job(name, firing, &self.owner).await {
                warn!(job = name, firing = %firing, error = %e, "cannot record the job complete");
                self.release(job).await;
                return Attempt::Failed;
            }
        } else {
            self.release(job).await;
        }
        outcome
    }

    async fn release(&self, job: JobKind) {
        if let Err(e) = self.storage.release_job(job.name(), &self.owner).await {
            warn!(job = job.name(), error = %e, "cannot release the job claim");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    use crate::adapters::geocoder::none::NoGeocoder;
    use crate::adapters::storage::memory::MemoryStorage;
    use crate::domain::grouping::GroupStrategy;
    use crate::domain::service::Context;
    use crate::ports::{JobLedger, Metrics};
    use crate::testing::SeededRandom;

    /// A clock that follows tokio's (paused, auto-advancing) time from a fixed origin.
    struct TokioClock {
        origin: DateTime<Utc>,
        start: tokio::time::Instant,
        speed: u32,
    }

    impl Clock for TokioClock {
        fn now(&self) -> DateTime<Utc> {
            let real = self.start.elapsed() * self.speed;
            self.origin + TimeDelta::from_std(real).unwrap()
        }

        fn monotonic(&self) -> Duration {
            self.start.elapsed()
        }
    }

    /// Remembers every job run: (job, ok).
    #[derive(Default)]
    struct Runs(Mutex<Vec<(String, bool)>>);

    impl Metrics for Runs {
        fn job_run(&self, job: &str, ok: bool, _: Duration, _: u64) {
            self.0.lock().push((job.to_string(), ok));
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    struct Rig {
        scheduler: Scheduler,
        storage: Arc<MemoryStorage>,
        runs: Arc<Runs>,
        clock: Arc<TokioClock>,
    }

    fn rig(origin: &str, speed: u32) -> Rig {
        let storage = Arc::new(MemoryStorage::new());
        let runs = Arc::new(Runs::default());
        let clock = Arc::new(TokioClock {
            origin: utc(origin),
            start: tokio::time::Instant::now(),
            speed,
        });
        let calendar = Calendar::new(chrono_tz::Europe::London);
        let ctx = Context {
            storage: storage.clone(),
            geocoder: Arc::new(NoGeocoder),
            metrics: runs.clone(),
            clock: clock.clone(),
            random: Arc::new(SeededRandom::new(7)),
            calendar,
            strategy: GroupStrategy::Naive,
            prune_threshold: TimeDelta::days(15),
        };
        let scheduler = Scheduler {
            jobs: JobService::new(&ctx),
            storage: storage.clone(),
            clock: clock.clone(),
            calendar,
            speed,
            owner: "me".to_string(),
            max_nap: Duration::from_secs(60),
        };
        Rig {
            scheduler,
            storage,
            runs,
            clock,
        }
    }

    fn names(runs: &Runs) -> Vec<String> {
        runs.0.lock().iter().map(|(j, _)| j.clone()).collect()
    }

    /// Records `firing` of `job` complete, as a previous run would have left it.
    async fn complete(rig: &Rig, job: &str, firing: DateTime<Utc>) {
        let t = firing;
        assert!(rig.storage.claim_job(job, t, "old", t, t).await.unwrap());
        rig.storage.complete_job(job, t, "old").await.unwrap();
    }

    /// Records every job's latest firing at or before `at` complete.
    async fn complete_latest_firings(rig: &Rig, at: &str) {
        for job in JobKind::ALL {
            let firing = job.latest_firing(&rig.scheduler.calendar, utc(at));
            complete(rig, job.name(), firing).await;
        }
    }

    async fn run_for(rig: Rig, real: Duration) -> (Arc<MemoryStorage>, Arc<Runs>, Arc<TokioClock>) {
        let stop = CancellationToken::new();
        let task = tokio::spawn(rig.scheduler.run(stop.clone()));
        tokio::time::sleep(real).await;
        stop.cancel();
        task.await.unwrap();
        (rig.storage, rig.runs, rig.clock)
    }

    #[tokio::test(start_paused = true)]
    async fn never_completed_jobs_catch_up_their_latest_firing_oldest_first() {
        // 01:10 BST on 1 July: aggregate (00:30) and create (01:00) fired today, prune and
        // garbage collection yesterday.
        let rig = rig("2018-07-01T00:10:00Z", 1);
        let (storage, runs, _) = run_for(rig, Duration::from_secs(1)).await;
        assert_eq!(
            names(&runs),
            [
                "prune-clients",
                "collect-garbage",
                "aggregate-sketches",
                "create-sketches"
            ]
        );
        for (job, firing) in [
            ("prune-clients", "2018-06-30T01:00:00Z"),
            ("collect-garbage", "2018-06-30T02:00:00Z"),
            ("aggregate-sketches", "2018-06-30T23:30:00Z"),
            ("create-sketches", "2018-07-01T00:00:00Z"),
        ] {
            assert_eq!(
                storage.last_completed(job).await.unwrap(),
                Some(utc(firing)),
                "{job}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_completed_at_their_latest_firing_are_not_caught_up() {
        let rig = rig("2018-07-01T00:10:00Z", 1);
        for (job, firing) in [
            ("prune-clients", "2018-06-30T01:00:00Z"),
            ("collect-garbage", "2018-06-30T02:00:00Z"),
            ("aggregate-sketches", "2018-06-30T23:30:00Z"),
        ] {
            complete(&rig, job, utc(firing)).await;
        }
        let (_, runs, _) = run_for(rig, Duration::from_secs(1)).await;
        assert_eq!(names(&runs), ["create-sketches"]);
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_fire_at_their_local_times_each_day() {
        // Start just after every firing of 1 July (03:05 BST), all complete.
        let rig = rig("2018-07-01T02:05:00Z", 1);
        complete_latest_firings(&rig, "2018-07-01T02:05:00Z").await;
        // Run until 01:30 UTC (02:30 BST) on 3 July: two aggregate and create firings, one prune on 2 July,
        // and prune on 3 July at 02:00; garbage collection only on 2 July.
        let (storage, runs, clock) = run_for(rig, Duration::from_secs(47 * 3600 + 25 * 60)).await;
        assert!(clock.now() >= utc("2018-07-03T01:30:00Z"));
        assert_eq!(
            names(&runs),
            [
                "aggregate-sketches",
                "create-sketches",
                "prune-clients",
                "collect-garbage",
                "aggregate-sketches",
                "create-sketches",
                "prune-clients",
            ]
        );
        let last = |job: &'static str| {
            let storage = storage.clone();
            async move { storage.last_completed(job).await.unwrap() }
        };
        assert_eq!(
            last("aggregate-sketches").await,
            Some(utc("2018-07-02T23:30:00Z"))
        );
        assert_eq!(
            last("create-sketches").await,
            Some(utc("2018-07-03T00:00:00Z"))
        );
        assert_eq!(
            last("prune-clients").await,
            Some(utc("2018-07-03T01:00:00Z"))
        );
        assert_eq!(
            last("collect-garbage").await,
            Some(utc("2018-07-02T02:00:00Z"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn testing_mode_speed_fires_a_whole_day_in_five_real_minutes() {
        let rig = rig("2018-07-01T02:05:00Z", 288);
        complete_latest_firings(&rig, "2018-07-01T02:05:00Z").await;
        let (_, runs, _) = run_for(rig, Duration::from_secs(5 * 60)).await;
        assert_eq!(
            names(&runs),
            [
                "aggregate-sketches",
                "create-sketches",
                "prune-clients",
                "collect-garbage"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_firing_claimed_by_another_instance_is_run_here_only_after_its_claim_lapses() {
        let rig = rig("2018-07-01T02:05:00Z", 1);
        let now = utc("2018-07-01T02:05:00Z");
        for job in JobKind::ALL {
            let t = job.latest_firing(&rig.scheduler.calendar, now);
            // Another live instance holds every latest firing for an hour.
            assert!(rig
                .storage
                .claim_job(job.name(), t, "other", now, now + TimeDelta::hours(1))
                .await
                .unwrap());
        }
        let stop = CancellationToken::new();
        let task = tokio::spawn(rig.scheduler.run(stop.clone()));
        tokio::time::sleep(Duration::from_secs(50 * 60)).await;
        assert!(names(&rig.runs).is_empty(), "{:?}", names(&rig.runs));
        for job in JobKind::ALL {
            assert_eq!(rig.storage.last_completed(job.name()).await.unwrap(), None);
        }
        // The other instance died: once its claim lapses, this one runs the firings.
        tokio::time::sleep(Duration::from_secs(20 * 60)).await;
        stop.cancel();
        task.await.unwrap();
        assert_eq!(names(&rig.runs).len(), 4, "{:?}", names(&rig.runs));
        for job in JobKind::ALL {
            let t = job.latest_firing(&Calendar::new(chrono_tz::Europe::London), now);
            assert_eq!(
                rig.storage.last_completed(job.name()).await.unwrap(),
                Some(t)
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_while_asleep_returns_at_once() {
        let rig = rig("2018-07-01T02:05:00Z", 1);
        complete_latest_firings(&rig, "2018-07-01T02:05:00Z").await;
        let stop = CancellationToken::new();
        let task = tokio::spawn(rig.scheduler.run(stop.clone()));
        tokio::time::sleep(Duration::from_secs(10)).await;
        let before = tokio::time::Instant::now();
        stop.cancel();
        task.await.unwrap();
        assert_eq!(tokio::time::Instant::now(), before);
        assert!(names(&rig.runs).is_empty());
    }
}
