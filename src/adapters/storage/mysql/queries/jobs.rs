//! The job ledger and its history of runs in MySQL: the role's implementation and its SQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use r2d2_mysql::mysql::{Conn, Row};

use super::super::codec::{
    col, decode_run_counts, encode_run_counts, opt_time_col, time_col, time_value,
};
use super::super::MysqlStorage;
use super::{all, opt, s, Db};
use crate::domain::job::JobRun;
use crate::ports::{JobLedger, StorageError, StorageResult};

#[async_trait]
impl JobLedger for MysqlStorage {
    async fn last_completed(&self, job: &str) -> StorageResult<Option<DateTime<Utc>>> {
        let job = job.to_string();
        self.call("last_completed", move |db| last_completed(db, &job))
            .await
    }

    async fn claim_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StorageResult<bool> {
        let (job, owner) = (job.to_string(), owner.to_string());
        self.call("claim_job", move |db| {
            claim_job(db, &job, firing, &owner, now, lease_until)
        })
        .await
    }

    async fn complete_job(
        &self,
        job: &str,
        firing: DateTime<Utc>,
        owner: &str,
    ) -> StorageResult<()> {
        let (job, owner) = (job.to_string(), owner.to_string());
        self.call("complete_job", move |db| {
            complete_job(db, &job, firing, &owner)
        })
        .await
    }

    async fn release_job(&self, job: &str, owner: &str) -> StorageResult<()> {
        let (job, owner) = (job.to_string(), owner.to_string());
        self.call("release_job", move |db| release_job(db, &job, &owner))
            .await
    }

    async fn record_job_run(&self, run: &JobRun) -> StorageResult<()> {
        let run = run.clone();
        self.call("record_job_run", move |db| record_job_run(db, &run))
            .await
    }

    async fn job_runs(&self, job: &str, limit: usize) -> StorageResult<Vec<JobRun>> {
        let job = job.to_string();
        self.call("job_runs", move |db| job_runs(db, &job, limit))
            .await
    }

    async fn delete_job_runs_before(&self, before: DateTime<Utc>) -> StorageResult<u64> {
        self.call("delete_job_runs_before", move |db| {
            delete_job_runs_before(db, before)
        })
        .await
    }
}

// ---- statements

fn last_completed(db: &mut Db<Conn>, job: &str) -> StorageResult<Option<DateTime<Utc>>> {
    match db.first::<Row>(
        "SELECT completedFiring FROM jobs WHERE job = ?",
        vec![s(job)],
    )? {
        Some(mut r) => opt_time_col(&mut r, 0),
        None => Ok(None),
    }
}

/// The job's row is created first on its own, then locked, so concurrent claimers queue on one
/// row lock and exactly one of them takes an open firing.
fn claim_job(
    db: &mut Db<Conn>,
    job: &str,
    firing: DateTime<Utc>,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> StorageResult<bool> {
    db.run("INSERT IGNORE INTO jobs (job) VALUES (?)", vec![s(job)])?;
    db.transaction(|tx| {
        let Some(mut row) = tx.first::<Row>(
            "SELECT completedFiring, owner, leaseUntil FROM jobs WHERE job = ? FOR UPDATE",
            vec![s(job)],
        )?
        else {
            return Err(StorageError::Failure(format!("job row {job} vanished")));
        };
        let completed = opt_time_col(&mut row, 0)?;
        let holder: Option<String> = col(&mut row, 1)?;
        let until = opt_time_col(&mut row, 2)?;
        if completed.is_some_and(|c| c >= codec_millis(firing)) {
            return Ok(false);
        }
        if let (Some(holder), Some(until)) = (holder, until) {
            if holder != owner && until > now {
                return Ok(false);
            }
        }
        tx.run(
            "UPDATE jobs SET owner = ?, leaseUntil = ? WHERE job = ?",
            vec![s(owner), time_value(lease_until), s(job)],
        )?;
        Ok(true)
    })
}

fn codec_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    crate::domain::time::millis(t)
}

fn complete_job(
    db: &mut Db<Conn>,
    job: &str,
    firing: DateTime<Utc>,
    owner: &str,
) -> StorageResult<()> {
    // Assignments run left to right: the lease is released before the owner is cleared.
    db.run(
        "INSERT INTO jobs (job, completedFiring) VALUES (?, ?) ON DUPLICATE KEY UPDATE \
         leaseUntil = IF(owner <=> ?, NULL, leaseUntil), \
         owner = IF(owner <=> ?, NULL, owner), \
         completedFiring = GREATEST(COALESCE(completedFiring, VALUES(completedFiring)), \
                                    VALUES(completedFiring))",
        vec![s(job), time_value(firing), s(owner), s(owner)],
    )?;
    Ok(())
}

fn release_job(db: &mut Db<Conn>, job: &str, owner: &str) -> StorageResult<()> {
    db.run(
        "UPDATE jobs SET leaseUntil = NULL, owner = NULL WHERE job = ? AND owner = ?",
        vec![s(job), s(owner)],
    )?;
    Ok(())
}

// ---- the history of runs

const RUN_COLUMNS: &str =
    "job, firing, instance, started, durationMs, outcome, counts, failed, error";

fn run_of(mut r: Row) -> StorageResult<JobRun> {
    let outcome: String = col(&mut r, 5)?;
    let counts: String = col(&mut r, 6)?;
    let failed: String = col(&mut r, 7)?;
    Ok(JobRun {
        job: col(&mut r, 0)?,
        firing: time_col(&mut r, 1)?,
        instance: col(&mut r, 2)?,
        started: time_col(&mut r, 3)?,
        duration_ms: col(&mut r, 4)?,
        outcome: outcome.parse().map_err(StorageError::Failure)?,
        counts: decode_run_counts(&counts)?,
        failed: serde_json::from_str(&failed)
            .map_err(|_| StorageError::Failure("malformed failed campaigns".into()))?,
        error: col(&mut r, 8)?,
    })
}

fn record_job_run(db: &mut Db<Conn>, run: &JobRun) -> StorageResult<()> {
    let failed = serde_json::to_string(&run.failed).unwrap_or_else(|_| "[]".to_string());
    db.run(
        &format!("INSERT INTO job_runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        vec![
            s(&run.job),
            time_value(run.firing),
            s(&run.instance),
            time_value(run.started),
            run.duration_ms.into(),
            s(run.outcome.as_str()),
            s(&encode_run_counts(&run.counts)),
            s(&failed),
            opt(&run.error),
        ],
    )?;
    Ok(())
}

/// By the `(job, started, id)` index, read backwards.
fn job_runs(db: &mut Db<Conn>, job: &str, limit: usize) -> StorageResult<Vec<JobRun>> {
    let rows = db.rows::<Row>(
        &format!(
            "SELECT {RUN_COLUMNS} FROM job_runs WHERE job = ? \
             ORDER BY started DESC, id DESC LIMIT ?"
        ),
        vec![s(job), (limit as u64).into()],
    )?;
    all(rows, run_of)
}

fn delete_job_runs_before(db: &mut Db<Conn>, before: DateTime<Utc>) -> StorageResult<u64> {
    db.run(
        "DELETE FROM job_runs WHERE started < ?",
        vec![time_value(before)],
    )
}
