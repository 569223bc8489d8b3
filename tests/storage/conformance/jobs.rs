//! Conformance cases of `JobLedger`.

use std::sync::Arc;

use chrono::Duration;

use pdd_server::ports::Storage;

use super::fixtures::*;

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
