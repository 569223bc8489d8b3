//! The job ledger in MySQL: the role's implementation and its SQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use r2d2_mysql::mysql::{Conn, Row};

use super::super::codec::{col, opt_time_col, time_value};
use super::super::MysqlStorage;
use super::{s, Db};
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
