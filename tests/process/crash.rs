//! Crash safety on MariaDB: the server is killed with SIGKILL in the middle of a nightly job
//! (aggregation, then sketch creation, each made long with hundreds of campaigns), restarted,
//! and its catch-up run leaves exactly what an uninterrupted run would: one aggregation per
//! campaign-day equal to the true totals, one sketch per participant in balanced groups, no
//! duplicate, no gap.
//!
//! Which firings run is set in the `jobs` table, as a server that was down would have left it:
//! during the set-up every job is marked complete far in the future (nothing runs), then one
//! job's mark is removed (its latest firing was missed) before each restart.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use num_bigint::BigInt;
use r2d2_mysql::mysql::prelude::Queryable;
use r2d2_mysql::mysql::Conn;
use reqwest::blocking::Client;
use serde_json::json;

use pdd_server::domain::service::jobs::JobKind;
use pdd_server::domain::time::Calendar;

use pdd_server::testing::mysql::{available, server as mysql_server, TestDb};
use pdd_server::testing::{cancelling_blinds, london_at as local, public_key};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::mysql::{http, send, start, wait_health, TOKEN, ZONE};
use crate::server::Server;

/// Campaigns per phase: enough that a job runs for a while (each campaign-day is one
/// transaction).
const CAMPAIGNS: usize = 250;
const CLIENTS: usize = 20;
const GROUP_SIZE: usize = 5;

fn sql_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

fn count(conn: &mut Conn, query: &str) -> usize {
    conn.query_first::<u64, _>(query).unwrap().unwrap_or(0) as usize
}

/// The firing a job last completed, as recorded.
fn completed(conn: &mut Conn, job: &str) -> Option<DateTime<Utc>> {
    let text: Option<Option<String>> = conn
        .exec_first(
            "SELECT DATE_FORMAT(completedFiring, '%Y-%m-%d %H:%i:%s.%f') FROM jobs WHERE job = ?",
            (job,),
        )
        .unwrap();
    text.flatten().map(|t| {
        NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S%.f")
            .unwrap()
            .and_utc()
    })
}

/// Marks every job complete far in the future (no firing runs, neither caught up nor on
/// time), except `missed`, whose latest firing is then due.
fn mark_jobs(conn: &mut Conn, missed: Option<JobKind>) {
    for job in JobKind::ALL {
        let completed = if Some(job) == missed {
            None
        } else {
            Some("2100-01-01 00:00:00.000")
        };
        conn.exec_drop(
            "INSERT INTO jobs (job, completedFiring, owner, leaseUntil) VALUES (?, ?, NULL, NULL) \
             ON DUPLICATE KEY UPDATE completedFiring = VALUES(completedFiring), owner = NULL, \
             leaseUntil = NULL",
            (job.name(), completed),
        )
        .unwrap();
    }
}

/// What a dead instance leaves once its lease has run out (60 s), without waiting for it.
fn lease_ran_out(conn: &mut Conn, job: JobKind) {
    let held: Option<Option<String>> = conn
        .exec_first("SELECT owner FROM jobs WHERE job = ?", (job.name(),))
        .unwrap();
    assert!(
        held.flatten().is_some(),
        "the killed instance held the {} claim",
        job.name()
    );
    conn.exec_drop(
        "UPDATE jobs SET leaseUntil = '2000-01-01 00:00:00' WHERE job = ?",
        (job.name(),),
    )
    .unwrap();
}

/// Starts a server, waits until `progress` (polled on the database) shows a few units of work
/// done, and kills it with SIGKILL; returns the progress seen after the kill.
fn kill_during(
    db: &TestDb,
    what: &str,
    progress: &dyn Fn(&mut Conn) -> usize,
    total: usize,
) -> usize {
    let mut conn = db.conn();
    let before = progress(&mut conn);
    assert_eq!(before, 0, "{what}: nothing done before the start");
    let mut server = start(db, &mysql_server());
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress(&mut conn) < 5 {
        assert!(
            Instant::now() < deadline,
            "{what}: no progress within 60 s:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    server.signal(libc::SIGKILL);
    let status = server.wait(Duration::from_secs(10));
    assert_eq!(status.code(), None, "killed by a signal");
    // The killed connection's open transaction is rolled back by the database.
    std::thread::sleep(Duration::from_millis(300));
    let done = progress(&mut conn);
    assert!(
        done > 0 && done < total,
        "{what}: the kill should land mid-run, but {done} of {total} were done \
         (make the job longer)"
    );
    assert!(
        server.output().contains("catching up a missed firing"),
        "{}",
        server.output()
    );
    done
}

/// Restarts the server and waits until `job` records `firing` complete.
fn catch_up(db: &TestDb, job: JobKind, firing: DateTime<Utc>) -> Server {
    let server = start(db, &mysql_server());
    let mut conn = db.conn();
    let started = Instant::now();
    // Well within the 30 s a failed claim would wait for its retry: the scheduler waits for
    // the database to answer before catching up.
    while completed(&mut conn, job.name()) != Some(firing) {
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "{} firing {firing} not complete after {:?}:\n{}",
            job.name(),
            started.elapsed(),
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Waits while a job firing (00:30, 01:00, 02:00, 03:00 local) is less than 3 minutes away or
/// ago, so that no firing falls due during the test, and the latest firings stay the same.
fn away_from_firings() {
    let cal = Calendar::new(ZONE);
    loop {
        let now = Utc::now();
        let near = JobKind::ALL.iter().any(|j| {
            now - j.latest_firing(&cal, now) < TimeDelta::minutes(3)
                || j.next_firing(&cal, now) - now < TimeDelta::minutes(3)
        });
        if !near {
            return;
        }
        std::thread::sleep(Duration::from_secs(10));
    }
}

fn create_campaigns(
    http: &Client,
    server: &Server,
    start: DateTime<Utc>,
    label: &str,
) -> Vec<String> {
    (0..CAMPAIGNS)
        .map(|i| {
            let c = send(
                http.post(server.url("/api/campaigns"))
                    .bearer_auth(TOKEN)
                    .json(&json!({
                        "displayName": format!("{label} {i}"),
                        "vocabulary": {"queries": [{"exact": "flu"}, {"terms": ["fever", "cough"]}]},
                        "startTime": start.to_rfc3339(),
                        "groupSize": GROUP_SIZE,
                        "graceDelay": 2,
                        "collectRaw": true,
                    })),
                201,
            );
            c["name"].as_str().unwrap().to_string()
        })
        .collect()
}

fn record_activity(conn: &mut Conn, clients: &[String], date: NaiveDate) {
    for c in clients {
        conn.exec_drop(
            "INSERT INTO activity (clientName, time) VALUES (?, ?)",
            (c, sql_time(local(date, 12, 0))),
        )
        .unwrap();
    }
}

#[test]
fn a_job_killed_mid_run_is_caught_up_after_restart_exactly_as_an_uninterrupted_run() {
    if !available() {
        return;
    }
    away_from_firings();
    let cal = Calendar::new(ZONE);
    let now = Utc::now();
    let aggregate_firing = JobKind::AggregateSketches.latest_firing(&cal, now);
    let create_firing = JobKind::CreateSketches.latest_firing(&cal, now);
    let date = |t: DateTime<Utc>| t.with_timezone(&ZONE).date_naive();
    let db = TestDb::new();
    let http = http();

    // Set-up: schema, then no job runs while the data is prepared.
    let mut server = start(&db, &mysql_server());
    wait_health(&server, 200, Duration::from_secs(60));
    let mut conn = db.conn();
    // The first start catches up the four firings on the empty database: let it finish.
    let deadline = Instant::now() + Duration::from_secs(25);
    while count(
        &mut conn,
        "SELECT COUNT(*) FROM jobs WHERE completedFiring IS NOT NULL",
    ) < 4
    {
        assert!(Instant::now() < deadline, "{}", server.output());
        std::thread::sleep(Duration::from_millis(50));
    }
    mark_jobs(&mut conn, None);
    let clients: Vec<String> = (0..CLIENTS)
        .map(|i| {
            let c = send(
                http.post(server.url("/api/clients"))
                    .json(&json!({"publicKey": public_key(i), "browser": "firefox"})),
                201,
            );
            c["name"].as_str().unwrap().to_string()
        })
        .collect();

    // ---- Phase A: aggregation. Campaigns whose day 0 (the day before yesterday as of the
    // aggregation firing) is aggregated at that firing; their day-0 sketches made by a manual
    // run of create-sketches, and submitted in full for the first 10 campaigns, all but one
    // member for the next 10, not at all for the rest.
    let day0 = date(aggregate_firing) - chrono::Days::new(2);
    let campaigns_a = create_campaigns(&http, &server, local(day0, 0, 0), "A");
    record_activity(&mut conn, &clients, day0);
    let at = local(day0 + chrono::Days::new(1), 1, 0).timestamp_millis();
    let created = send(
        http.post(server.admin_url(&format!("/admin/jobs/create-sketches?at={at}"))),
        200,
    );
    assert_eq!(created["created"], json!(CAMPAIGNS * CLIENTS), "{created}");
    let mut expected: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for (i, campaign) in campaigns_a.iter().enumerate() {
        let mut stats = json!({"activeCount": CLIENTS, "submittedCount": 0, "decryptedCount": 0,
                               "rejectedCount": 0});
        let mut values = json!([]);
        if i < 20 {
            let sketches: Vec<(String, u32)> = conn
                .exec(
                    "SELECT name, `group` FROM sketches WHERE campaignName = ? AND day = 0 \
                     ORDER BY `group`, clientName",
                    (campaign,),
                )
                .unwrap();
            let mut groups: BTreeMap<u32, Vec<String>> = BTreeMap::new();
            for (name, group) in sketches {
                groups.entry(group).or_default().push(name);
            }
            let (mut totals, mut submitted, mut decrypted) = (vec![0i64; 3], 0, 0);
            for (group, members) in &groups {
                let seed = 1000 * i as u64 + u64::from(*group);
                let blinds = cancelling_blinds(members.len(), 1, &mut StdRng::seed_from_u64(seed));
                let silent = i >= 10 && *group == 0;
                for (m, sketch) in members.iter().enumerate() {
                    if silent && m == 0 {
                        continue;
                    }
                    let counts = [7 + m as i64, (i % 3) as i64, 1];
                    let encrypted: Vec<String> = counts
                        .iter()
                        .map(|c| (BigInt::from(*c) + &blinds[m][0]).to_string())
                        .collect();
                    send(
                        http.patch(server.url(&format!("/api/sketches/{sketch}")))
                            .json(&json!({"encryptedValues": encrypted, "rawValues": counts})),
                        204,
                    );
                    submitted += 1;
                    if !silent {
                        for (t, c) in totals.iter_mut().zip(counts) {
                            *t += c;
                        }
                    }
                }
                if !silent {
                    decrypted += members.len();
                }
            }
            stats = json!({"activeCount": CLIENTS, "submittedCount": submitted,
                           "decryptedCount": decrypted, "rejectedCount": 0});
            values = json!(totals);
        }
        expected.insert(
            campaign.clone(),
            json!({"stats": stats, "decryptedValues": values}),
        );
    }
    assert_eq!(server.terminate().code(), Some(0));

    // The aggregation firing was missed: the next start catches it up; kill it mid-run.
    mark_jobs(&mut conn, Some(JobKind::AggregateSketches));
    let aggregations = |c: &mut Conn| count(c, "SELECT COUNT(*) FROM aggregations");
    let done = kill_during(&db, "aggregate-sketches", &aggregations, CAMPAIGNS);
    assert_eq!(completed(&mut conn, "aggregate-sketches"), None);
    lease_ran_out(&mut conn, JobKind::AggregateSketches);
    let mut server = catch_up(&db, JobKind::AggregateSketches, aggregate_firing);
    assert_eq!(
        aggregations(&mut conn),
        CAMPAIGNS,
        "one aggregation per campaign-day"
    );
    for (campaign, want) in &expected {
        let result = send(
            http.get(server.url(&format!("/api/campaigns/{campaign}/results/0")))
                .bearer_auth(TOKEN),
            200,
        );
        assert_eq!(
            json!({"stats": result["stats"], "decryptedValues": result["decryptedValues"]}),
            *want,
            "campaign {campaign} after the catch-up ({done} of {CAMPAIGNS} were aggregated when killed)"
        );
        let list = send(
            http.get(server.url(&format!("/api/campaigns/{campaign}/results")))
                .bearer_auth(TOKEN),
            200,
        );
        assert_eq!(list["results"].as_array().map(Vec::len), Some(1));
    }

    // ---- Phase B: sketch creation. New campaigns whose day 1 is yesterday as of the
    // create-sketches firing; every client active yesterday. (The phase A campaigns get the
    // sketches of their own day of yesterday in the same run.)
    let yesterday = date(create_firing) - chrono::Days::new(1);
    let campaigns_b = create_campaigns(
        &http,
        &server,
        local(yesterday - chrono::Days::new(1), 0, 0),
        "B",
    );
    record_activity(&mut conn, &clients, yesterday);
    assert_eq!(server.terminate().code(), Some(0));
    // Per campaign, the day yesterday is (day 1 for phase B; 1 or 0 for phase A, whose day 0
    // sketches exist already when yesterday is its day 0).
    let due: Vec<(String, i64)> = campaigns_a
        .iter()
        .map(|c| (c.clone(), (yesterday - day0).num_days()))
        .chain(campaigns_b.iter().map(|c| (c.clone(), 1)))
        .collect();
    let campaign_days = |c: &mut Conn| {
        count(
            c,
            "SELECT COUNT(*) FROM (SELECT DISTINCT campaignName, day FROM sketch_groups) d",
        )
    };
    let before = campaign_days(&mut conn);
    let after: BTreeSet<(String, i64)> = conn
        .query::<(String, i64), _>("SELECT DISTINCT campaignName, day FROM sketch_groups")
        .unwrap()
        .into_iter()
        .chain(due.iter().cloned())
        .collect();
    let new = after.len() - before;
    mark_jobs(&mut conn, Some(JobKind::CreateSketches));
    let progress = |c: &mut Conn| campaign_days(c) - before;
    let done = kill_during(&db, "create-sketches", &progress, new);
    assert_eq!(completed(&mut conn, "create-sketches"), None);
    lease_ran_out(&mut conn, JobKind::CreateSketches);
    let mut server_b = catch_up(&db, JobKind::CreateSketches, create_firing);
    assert_eq!(
        campaign_days(&mut conn),
        after.len(),
        "no campaign-day missing or extra"
    );
    let everyone: BTreeSet<&String> = clients.iter().collect();
    for (campaign, day) in &due {
        let sketches: Vec<(String, String, u32)> = conn
            .exec(
                "SELECT name, clientName, `group` FROM sketches WHERE campaignName = ? AND day = ?",
                (campaign, day),
            )
            .unwrap();
        let members: BTreeSet<&String> = sketches.iter().map(|s| &s.1).collect();
        assert_eq!(
            sketches.len(),
            CLIENTS,
            "{campaign} day {day}: one sketch per participant"
        );
        assert_eq!(
            members, everyone,
            "{campaign} day {day}: every participant, once"
        );
        let mut sizes: BTreeMap<u32, usize> = BTreeMap::new();
        for (_, _, g) in &sketches {
            *sizes.entry(*g).or_default() += 1;
        }
        let groups: Vec<(u32, u32)> = conn
            .exec(
                "SELECT groupId, submittedCount FROM sketch_groups WHERE campaignName = ? AND day = ? ORDER BY groupId",
                (campaign, day),
            )
            .unwrap();
        assert_eq!(
            groups.iter().map(|g| g.0).collect::<Vec<_>>(),
            (0..(CLIENTS / GROUP_SIZE) as u32).collect::<Vec<_>>(),
            "{campaign} day {day}: groups"
        );
        assert!(
            sizes.values().all(|n| *n == GROUP_SIZE),
            "{campaign} day {day}: {sizes:?}"
        );
    }
    let skipped = server_b
        .output()
        .lines()
        .filter(|l| l.contains("sketches already exist for this day"))
        .count();
    assert!(
        skipped >= done,
        "the {done} campaign-days created before the kill are kept, not made again:\n{}",
        server_b.output()
    );
    assert_eq!(server_b.terminate().code(), Some(0));
    // And the aggregation results of phase A are untouched.
    assert_eq!(aggregations(&mut conn), CAMPAIGNS);
    drop(server);
}
