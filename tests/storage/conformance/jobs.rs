//! Conformance cases of `JobLedger`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use pdd_server::domain::job::{JobRun, Outcome};
use pdd_server::ports::Storage;

use pdd_server::testing::entities::*;

pub async fn job_ledger_claims_completes_and_releases(s: Arc<dyn Storage>) {
    let job = "create-sketches";
    let (f1, f2) = (t(HOUR), t(DAY_MS + HOUR));
    assert_eq!(s.last_completed(job).await.unwrap(), None);

    assert!(s
        .claim_job(job, f1, "one", f1, f1 + Duration::minutes(10))
        .await
        .unwrap());
    // The owner may renew its own claim.
    assert!(s
        .claim_job(
            job,
            f1,
            "one",
            f1 + Duration::minutes(1),
            f1 + Duration::minutes(20)
        )
        .await
        .unwrap());
    s.complete_job(job, f1, "one").await.unwrap();
    assert_eq!(s.last_completed(job).await.unwrap(), Some(f1));
    // A completed firing is never claimed again, by anyone.
    assert!(!s
        .claim_job(
            job,
            f1,
            "two",
            f1 + Duration::minutes(2),
            f1 + Duration::minutes(12)
        )
        .await
        .unwrap());
    assert!(!s
        .claim_job(
            job,
            f1,
            "one",
            f1 + Duration::minutes(2),
            f1 + Duration::minutes(12)
        )
        .await
        .unwrap());
    assert!(!s
        .claim_job(
            job,
            f1 - Duration::days(1),
            "two",
            f1,
            f1 + Duration::minutes(12)
        )
        .await
        .unwrap());
    // Completing released the claim: another owner takes the next firing at once.
    assert!(s
        .claim_job(
            job,
            f2,
            "two",
            f1 + Duration::minutes(2),
            f2 + Duration::minutes(10)
        )
        .await
        .unwrap());

    // Release without completion: the firing stays to do, and others may take it.
    s.release_job(job, "two").await.unwrap();
    assert_eq!(s.last_completed(job).await.unwrap(), Some(f1));
    assert!(s
        .claim_job(job, f2, "three", f2, f2 + Duration::minutes(10))
        .await
        .unwrap());
    // Releasing someone else's claim changes nothing.
    s.release_job(job, "two").await.unwrap();
    assert!(!s
        .claim_job(
            job,
            f2,
            "two",
            f2 + Duration::minutes(1),
            f2 + Duration::minutes(11)
        )
        .await
        .unwrap());
    // Jobs are independent.
    assert_eq!(s.last_completed("prune-clients").await.unwrap(), None);
    assert!(s
        .claim_job("prune-clients", f2, "two", f2, f2 + Duration::minutes(10))
        .await
        .unwrap());
    // Releasing a job nobody claimed is harmless.
    s.release_job("collect-garbage", "two").await.unwrap();
}

pub async fn job_claim_refuses_live_lease_of_another_owner_and_takes_expired_one(
    s: Arc<dyn Storage>,
) {
    let job = "aggregate-sketches";
    let firing = t(HOUR);
    let lease = firing + Duration::minutes(10);
    assert!(s
        .claim_job(job, firing, "one", firing, lease)
        .await
        .unwrap());
    assert!(!s
        .claim_job(
            job,
            firing,
            "two",
            lease - Duration::milliseconds(1),
            lease + Duration::minutes(10)
        )
        .await
        .unwrap());
    // A later firing is refused too while the lease is live.
    assert!(!s
        .claim_job(job, firing + Duration::days(1), "two", firing, lease)
        .await
        .unwrap());
    // At `lease_until` the lease is over ("after now" is live).
    let lease2 = lease + Duration::minutes(10);
    assert!(s
        .claim_job(job, firing, "two", lease, lease2)
        .await
        .unwrap());
    // The previous owner lost it.
    assert!(!s
        .claim_job(job, firing, "one", lease + Duration::minutes(1), lease2)
        .await
        .unwrap());
    // Completion by the new owner.
    s.complete_job(job, firing, "two").await.unwrap();
    assert_eq!(s.last_completed(job).await.unwrap(), Some(firing));
}

pub async fn job_complete_keeps_the_later_firing(s: Arc<dyn Storage>) {
    let job = "collect-garbage";
    let (early, late) = (t(HOUR), t(DAY_MS + HOUR));
    s.complete_job(job, late, "one").await.unwrap();
    assert_eq!(s.last_completed(job).await.unwrap(), Some(late));
    s.complete_job(job, early, "two").await.unwrap();
    assert_eq!(s.last_completed(job).await.unwrap(), Some(late));
    assert!(!s
        .claim_job(job, early, "two", late, late + Duration::minutes(5))
        .await
        .unwrap());
    assert!(!s
        .claim_job(job, late, "two", late, late + Duration::minutes(5))
        .await
        .unwrap());
    let later = late + Duration::days(1);
    assert!(s
        .claim_job(job, later, "two", later, later + Duration::minutes(5))
        .await
        .unwrap());
    s.complete_job(job, later, "two").await.unwrap();
    assert_eq!(s.last_completed(job).await.unwrap(), Some(later));
    // Completed firings are kept to the millisecond.
    let precise = later + Duration::milliseconds(1);
    s.complete_job(job, precise, "two").await.unwrap();
    assert_eq!(s.last_completed(job).await.unwrap(), Some(precise));
}

pub async fn concurrent_claims_of_one_firing_grant_exactly_one(s: Arc<dyn Storage>) {
    let firing = t(HOUR);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let owner = format!("instance-{i}");
                let granted = s
                    .claim_job(
                        "create-sketches",
                        firing,
                        &owner,
                        firing,
                        firing + Duration::minutes(10),
                    )
                    .await
                    .unwrap();
                (owner, granted)
            })
        })
        .collect();
    let mut granted = Vec::new();
    for task in tasks {
        let (owner, ok) = task.await.unwrap();
        if ok {
            granted.push(owner);
        }
    }
    assert_eq!(granted.len(), 1, "{granted:?}");
    // The holder completes; nobody gets that firing afterwards.
    s.complete_job("create-sketches", firing, &granted[0])
        .await
        .unwrap();
    assert!(!s
        .claim_job(
            "create-sketches",
            firing,
            "late",
            firing + Duration::minutes(1),
            firing + Duration::minutes(11)
        )
        .await
        .unwrap());
}

fn run(job: &str, started: DateTime<Utc>, outcome: Outcome) -> JobRun {
    JobRun {
        job: job.to_string(),
        firing: started - Duration::minutes(1),
        instance: "host-a/4242/0a1b2c3d".to_string(),
        started,
        duration_ms: 1234,
        outcome,
        counts: BTreeMap::from([("created".to_string(), 12), ("groups".to_string(), 0)]),
        failed: Vec::new(),
        error: None,
    }
}

pub async fn job_runs_round_trip_every_field(s: Arc<dyn Storage>) {
    assert_eq!(s.job_runs("create-sketches", 10).await.unwrap(), vec![]);
    let ok = run("create-sketches", t(HOUR + 7), Outcome::Ok);
    let failed = JobRun {
        failed: vec!["campaign-b".into(), "campaign-é".into()],
        duration_ms: u64::from(u32::MAX) + 5,
        ..run("create-sketches", t(2 * HOUR), Outcome::Failed)
    };
    let error = JobRun {
        counts: BTreeMap::new(),
        error: Some("storage unavailable: connection refused ‘x’".into()),
        ..run("create-sketches", t(3 * HOUR), Outcome::Error)
    };
    let interrupted = run("create-sketches", t(4 * HOUR), Outcome::Interrupted);
    for r in [&ok, &failed, &error, &interrupted] {
        s.record_job_run(r).await.unwrap();
    }
    assert_eq!(
        s.job_runs("create-sketches", 10).await.unwrap(),
        vec![interrupted, error, failed, ok]
    );
}

pub async fn job_runs_are_newest_first_per_job_limited_and_ties_last_recorded_first(
    s: Arc<dyn Storage>,
) {
    for i in 0..5 {
        s.record_job_run(&run("prune-clients", t(i * DAY_MS), Outcome::Ok))
            .await
            .unwrap();
    }
    s.record_job_run(&run("collect-garbage", t(10 * DAY_MS), Outcome::Ok))
        .await
        .unwrap();
    // Two runs started at the same instant: the one recorded last comes first.
    let first = JobRun {
        instance: "first".into(),
        ..run("prune-clients", t(2 * DAY_MS), Outcome::Ok)
    };
    let second = JobRun {
        instance: "second".into(),
        ..run("prune-clients", t(2 * DAY_MS), Outcome::Ok)
    };
    s.record_job_run(&first).await.unwrap();
    s.record_job_run(&second).await.unwrap();
    let runs = s.job_runs("prune-clients", 4).await.unwrap();
    let seen: Vec<(DateTime<Utc>, &str)> = runs
        .iter()
        .map(|r| (r.started, r.instance.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (t(4 * DAY_MS), "host-a/4242/0a1b2c3d"),
            (t(3 * DAY_MS), "host-a/4242/0a1b2c3d"),
            (t(2 * DAY_MS), "second"),
            (t(2 * DAY_MS), "first"),
        ]
    );
    assert_eq!(s.job_runs("prune-clients", 100).await.unwrap().len(), 7);
    assert_eq!(s.job_runs("collect-garbage", 100).await.unwrap().len(), 1);
    assert_eq!(s.job_runs("no-such-job", 100).await.unwrap(), vec![]);
    assert_eq!(s.job_runs("prune-clients", 0).await.unwrap(), vec![]);
}

pub async fn delete_job_runs_before_is_strict_across_jobs_and_counts(s: Arc<dyn Storage>) {
    for (job, day) in [
        ("prune-clients", 0),
        ("prune-clients", 1),
        ("collect-garbage", 1),
        ("collect-garbage", 2),
    ] {
        s.record_job_run(&run(job, t(day * DAY_MS), Outcome::Ok))
            .await
            .unwrap();
    }
    assert_eq!(s.delete_job_runs_before(t(DAY_MS)).await.unwrap(), 1);
    assert_eq!(s.delete_job_runs_before(t(DAY_MS)).await.unwrap(), 0);
    let left = |runs: Vec<JobRun>| runs.iter().map(|r| r.started).collect::<Vec<_>>();
    assert_eq!(
        left(s.job_runs("prune-clients", 10).await.unwrap()),
        vec![t(DAY_MS)]
    );
    assert_eq!(
        s.delete_job_runs_before(t(2 * DAY_MS + 1)).await.unwrap(),
        3
    );
    assert_eq!(s.job_runs("collect-garbage", 10).await.unwrap(), vec![]);
    assert_eq!(s.job_runs("prune-clients", 10).await.unwrap(), vec![]);
}
