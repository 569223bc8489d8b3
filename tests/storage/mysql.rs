//! The MySQL storage against a real MariaDB, each test in its own fresh database: schema and
//! migrations (fresh, restarted, from the previous server's database), statement counts,
//! atomic submission under concurrency, outages, and job claims across instances.

use std::sync::Arc;
use std::time::Duration;

use num_bigint::{BigInt, BigUint};
use pdd_server::adapters::storage::mysql::{latest_version, MysqlStorage};
use pdd_server::domain::campaign::{Campaign, Query, Vocabulary};
use pdd_server::domain::client::{Activity, Client};
use pdd_server::domain::crypto;
use pdd_server::domain::sketch::{Group, Sketch, Submission};
use pdd_server::ports::storage::{DaySketches, SubmitOutcome};
use pdd_server::ports::{
    AggregationStore, CampaignStore, ClientStore, JobLedger, SketchStore, Storage, StorageError,
};
use r2d2_mysql::mysql::prelude::Queryable;

use pdd_server::testing::mysql::{self as mysql_support, Proxy, TestDb};
use pdd_server::testing::utc;

/// A fresh database per case, dropped after it; `None` (skipped) without MariaDB.
async fn conformance_instance() -> Option<(Arc<dyn Storage>, TestDb)> {
    if !mysql_support::available() {
        return None;
    }
    let db = TestDb::new();
    let storage: Arc<dyn Storage> = db.storage(4).await;
    Some((storage, db))
}

conformance_tests!(conformance, conformance_instance);

fn campaign(name: &str, collect_raw: bool) -> Campaign {
    Campaign {
        name: name.into(),
        create_time: utc("2018-05-01T10:00:00.123Z"),
        display_name: format!("Campaign {name}"),
        email: None,
        notes: None,
        vocabulary: Vocabulary {
            queries: vec![
                Query::Exact("flu".into()),
                Query::Terms(vec!["fever".into(), "cough".into()]),
            ],
        },
        start_time: Some(utc("2018-05-10T00:00:00Z")),
        end_time: None,
        delay: 0,
        grace_delay: 1,
        group_size: 3,
        sampling_rate: None,
        collect_encrypted: true,
        collect_raw,
        max_count: 10_000,
        min_decrypted_count: 0,
    }
}

fn client(name: &str) -> Client {
    Client {
        name: name.into(),
        create_time: utc("2018-05-01T00:00:00.500Z"),
        public_key: format!("04{:0>8}", hex_of(name)),
        browser: "chrome".into(),
        external_name: None,
    }
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// One campaign-day with `members` clients in one group.
fn day_sketches(campaign: &str, day: i64, members: &[&str]) -> DaySketches {
    let mut sorted: Vec<&str> = members.to_vec();
    sorted.sort();
    DaySketches {
        campaign_name: campaign.into(),
        day,
        groups: vec![Group {
            campaign_name: campaign.into(),
            day,
            group: 0,
            public_keys: sorted.iter().map(|m| client(m).public_key).collect(),
            queries_count: 2,
            submitted: 0,
            encrypted: 0,
            sum: vec![],
        }],
        sketches: sorted
            .iter()
            .map(|m| Sketch {
                name: format!("{campaign}-{day}-{m}"),
                create_time: utc("2018-05-12T00:00:00Z"),
                client_name: m.to_string(),
                campaign_name: campaign.into(),
                day,
                group: 0,
                queries_count: 2,
                submitted: false,
            })
            .collect(),
    }
}

macro_rules! require_mysql {
    () => {
        if !mysql_support::available() {
            return;
        }
    };
}

fn version_rows(db: &TestDb) -> Vec<(u32, u32, Option<String>)> {
    db.conn()
        .query(
            "SELECT version, stepsDone, DATE_FORMAT(appliedTime, '%Y-%m-%d %H:%i:%s.%f') \
             FROM schema_version ORDER BY version",
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_database_is_created_and_migrated_to_the_latest_version_with_indexes() {
    require_mysql!();
    let db = TestDb::new();
    let storage = db.storage(2).await;
    let versions = version_rows(&db);
    assert_eq!(
        versions.iter().map(|v| v.0).collect::<Vec<_>>(),
        (1..=latest_version()).collect::<Vec<_>>()
    );
    assert!(versions.iter().all(|v| v.2.is_some()));
    let mut conn = db.conn();
    let indexes: Vec<(String, String, String)> = conn
        .query(
            "SELECT table_name, index_name, \
                    GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ',') \
             FROM information_schema.statistics WHERE table_schema = DATABASE() \
             GROUP BY table_name, index_name ORDER BY table_name, index_name",
        )
        .unwrap();
    for expected in [
        ("activity", "activity_by_client", "clientName,time"),
        ("activity", "activity_by_time", "time"),
        ("aggregations", "aggregations_by_day", "campaignName,day"),
        ("clients", "clients_by_time", "createTime,name"),
        ("jobs", "PRIMARY", "job"),
        ("sketch_groups", "PRIMARY", "campaignName,day,groupId"),
        ("day_raw_sums", "PRIMARY", "campaignName,day"),
        ("sketches", "sketches_by_client", "clientName,submitted"),
        ("sketches", "sketches_by_day", "campaignName,day,group"),
        ("sketches", "name", "name"),
        ("job_runs", "job_runs_by_job", "job,started,id"),
        ("job_runs", "job_runs_by_start", "started"),
        ("client_days", "PRIMARY", "date"),
        ("client_day_counts", "PRIMARY", "date,kind,value"),
    ] {
        assert!(
            indexes
                .iter()
                .any(|(t, i, c)| (t.as_str(), i.as_str(), c.as_str()) == expected),
            "missing index {expected:?} in {indexes:?}"
        );
    }
    // Per-person vectors have no column any more.
    let vector_columns: Vec<String> = conn
        .query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() \
             AND table_name = 'sketches' AND column_name IN ('encryptedValues', 'rawValues')",
        )
        .unwrap();
    assert_eq!(vector_columns, Vec::<String>::new());
    assert_eq!(storage.count_clients().await, Ok(0));
    assert_eq!(storage.schema_version().await, Ok(Some(latest_version())));
    // Full Unicode survives (the old tables were utf8mb3).
    let mut c = campaign("unicode", false);
    c.display_name = "Grippe 🤒 été".into();
    storage.create_campaign(&c).await.unwrap();
    assert_eq!(storage.get_campaign("unicode").await.unwrap(), Some(c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_data_and_does_not_reapply_migrations() {
    require_mysql!();
    let db = TestDb::new();
    let first = db.storage(2).await;
    first.create_client(&client("a")).await.unwrap();
    let before = version_rows(&db);
    drop(first);
    let second = db.storage(2).await;
    assert_eq!(version_rows(&db), before);
    assert_eq!(
        second.get_client("a").await.unwrap().map(|d| d.client),
        Some(client("a"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_before_the_database_is_reachable_are_unavailable_then_it_becomes_ready() {
    require_mysql!();
    let db = TestDb::new();
    let proxy = Proxy::cut_from_start().await;
    let storage = MysqlStorage::start(mysql_support::config(&proxy.host_port(), &db.name, 2));
    assert!(!storage.wait_ready(Duration::from_millis(1500)).await);
    assert!(matches!(
        storage.health().await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        storage.get_campaign("x").await,
        Err(StorageError::Unavailable(_))
    ));
    proxy.restore().await;
    assert!(storage.wait_ready(Duration::from_secs(30)).await);
    assert_eq!(storage.health().await, Ok(()));
    assert_eq!(storage.get_campaign("x").await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_lost_mid_run_answers_unavailable_then_recovers_without_restart() {
    require_mysql!();
    let db = TestDb::new();
    let proxy = Proxy::start().await;
    let storage = MysqlStorage::start(mysql_support::config(&proxy.host_port(), &db.name, 4));
    assert!(storage.wait_ready(Duration::from_secs(60)).await);
    storage.create_client(&client("a")).await.unwrap();
    proxy.cut();
    let started = std::time::Instant::now();
    assert!(matches!(
        storage.get_client("a").await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        storage.create_client(&client("b")).await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    proxy.restore().await;
    let mut recovered = false;
    for _ in 0..50 {
        if storage.health().await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "storage did not recover");
    assert_eq!(
        storage.get_client("a").await.unwrap().map(|d| d.client),
        Some(client("a"))
    );
    // Nothing half-written: b was refused and is not there.
    assert_eq!(storage.get_client("b").await, Ok(None));
    storage.create_client(&client("b")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_pool_connections_are_replaced_transparently() {
    require_mysql!();
    let db = TestDb::new();
    let storage = db.storage(3).await;
    storage.create_client(&client("a")).await.unwrap();
    let mut admin = mysql_support::admin(None);
    let ids: Vec<u64> = admin
        .exec(
            "SELECT id FROM information_schema.processlist WHERE db = ?",
            (db.name.as_str(),),
        )
        .unwrap();
    assert!(!ids.is_empty());
    for id in ids {
        admin.query_drop(format!("KILL {id}")).unwrap();
    }
    assert_eq!(storage.count_clients().await, Ok(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_with_five_commands_costs_two_statements() {
    require_mysql!();
    let db = TestDb::new();
    let storage = db.storage(1).await;
    for m in ["a", "b", "c"] {
        storage.create_client(&client(m)).await.unwrap();
    }
    for name in ["c1", "c2", "c3", "c4", "c5"] {
        storage
            .create_campaign(&campaign(name, false))
            .await
            .unwrap();
        storage
            .create_day_sketches(&day_sketches(name, 2, &["a", "b", "c"]))
            .await
            .unwrap();
    }
    let activity = Activity {
        client_name: "a".into(),
        time: utc("2018-05-13T02:00:00.250Z"),
        country_code: Some("FR".into()),
        extension_version: Some("1.2.0".into()),
        timezone: None,
    };
    // The first ping of this process reads each group's keys once (5 groups).
    let counted_before = storage.statements();
    let first = Activity {
        time: utc("2018-05-13T01:00:00Z"),
        ..activity.clone()
    };
    let open = storage.record_ping(&first).await.unwrap().unwrap();
    assert_eq!(storage.statements() - counted_before, 2 + 5);
    assert_eq!(open.len(), 5);
    let questions_before = storage.session_questions().await.unwrap();
    let counted_before = storage.statements();
    let open = storage.record_ping(&activity).await.unwrap().unwrap();
    let counted = storage.statements() - counted_before;
    let questions = storage.session_questions().await.unwrap() - questions_before;
    assert_eq!(open.len(), 5);
    assert_eq!(
        open.iter()
            .map(|o| o.sketch.campaign_name.as_str())
            .collect::<Vec<_>>(),
        vec!["c1", "c2", "c3", "c4", "c5"]
    );
    assert!(open
        .iter()
        .all(|o| *o.public_keys == ["a", "b", "c"].map(|m| client(m).public_key)));
    assert_eq!(counted, 2);
    // The server saw the same: the ping and one SHOW STATUS of ours.
    assert_eq!(questions, 2 + 1);
    assert_eq!(
        storage.list_activity(Some("a"), None).await.unwrap(),
        vec![first, activity]
    );
    // An unknown client costs one statement and records nothing.
    let before = storage.statements();
    let unknown = Activity {
        client_name: "nobody".into(),
        ..storage.list_activity(Some("a"), None).await.unwrap()[0].clone()
    };
    let before = before + 1;
    assert_eq!(storage.record_ping(&unknown).await, Ok(None));
    assert_eq!(storage.statements() - before, 1);
    assert_eq!(
        storage.list_activity(Some("nobody"), None).await,
        Ok(vec![])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pings_share_activity_inserts_and_every_row_is_written_once() {
    require_mysql!();
    let db = TestDb::new();
    let storage = db.storage(4).await;
    let names: Vec<String> = (0..40).map(|i| format!("c{i:02}")).collect();
    for n in &names {
        storage.create_client(&client(n)).await.unwrap();
    }
    let before = storage.statements();
    let pings = names
        .iter()
        .map(|n| n.as_str())
        .chain(["nobody"])
        .map(|n| {
            let storage = storage.clone();
            let activity = Activity {
                client_name: n.to_string(),
                time: utc("2018-05-13T02:00:00Z"),
                country_code: None,
                extension_version: Some("1.2.0".into()),
                timezone: None,
            };
            tokio::spawn(async move { storage.record_ping(&activity).await })
        })
        .collect::<Vec<_>>();
    let mut answered = Vec::new();
    for p in pings {
        answered.push(p.await.unwrap().unwrap().map(|open| open.len()));
    }
    // Every known client answered (no sketches), the unknown one not found.
    assert_eq!(answered[..40], vec![Some(0); 40][..]);
    assert_eq!(answered[40], None);
    // One SELECT per ping; the 40 rows in at most 40 INSERTs (fewer when pings overlap).
    let statements = storage.statements() - before;
    assert!((41 + 1..=41 + 40).contains(&statements), "{statements}");
    let mut recorded: Vec<String> = storage
        .list_activity(None, None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.client_name)
        .collect();
    recorded.sort();
    assert_eq!(recorded, names);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_day_sketches_inserts_in_multi_row_batches_in_one_transaction() {
    require_mysql!();
    let db = TestDb::new();
    let storage = db.storage(1).await;
    let members: Vec<String> = (0..2500).map(|i| format!("m{i:05}")).collect();
    let day = DaySketches {
        campaign_name: "c".into(),
        day: 3,
        groups: members
            .chunks(5)
            .enumerate()
            .map(|(g, chunk)| Group {
                campaign_name: "c".into(),
                day: 3,
                group: g as u32,
                public_keys: chunk.iter().map(|m| format!("k{m}")).collect(),
                queries_count: 1,
                submitted: 0,
                encrypted: 0,
                sum: vec![],
            })
            .collect(),
        sketches: members
            .iter()
            .enumerate()
            .map(|(i, m)| Sketch {
                name: format!("s-{m}"),
                create_time: utc("2018-05-14T00:00:00Z"),
                client_name: m.clone(),
                campaign_name: "c".into(),
                day: 3,
                group: (i / 5) as u32,
                queries_count: 1,
                submitted: false,
            })
            .collect(),
    };
    let before = storage.statements();
    storage.create_day_sketches(&day).await.unwrap();
    // START, existence check, 1 insert of 500 groups, 3 inserts of 2500 sketches, COMMIT.
    assert_eq!(storage.statements() - before, 7);
    assert_eq!(storage.day_groups("c", 3).await.unwrap().len(), 500);
    assert_eq!(
        storage
            .get_sketch("s-m02499")
            .await
            .unwrap()
            .map(|s| s.group),
        Some(499)
    );
    // Again: nothing written.
    assert_eq!(
        storage.create_day_sketches(&day).await,
        Err(StorageError::AlreadyExists)
    );
    // A clash on one sketch name rolls the whole day back.
    let mut other = day.clone();
    other.day = 4;
    for g in &mut other.groups {
        g.day = 4;
    }
    for s in &mut other.sketches {
        s.day = 4;
        s.name = format!("{}-4", s.name);
    }
    other.sketches[2400].name = "s-m00001".into();
    assert_eq!(
        storage.create_day_sketches(&other).await,
        Err(StorageError::AlreadyExists)
    );
    assert_eq!(storage.day_groups("c", 4).await, Ok(vec![]));
    assert_eq!(storage.get_sketch("s-m00000-4").await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_from_one_group_are_all_folded() {
    require_mysql!();
    let db = TestDb::new();
    let storage = db.storage(8).await;
    let members: Vec<String> = (0..12).map(|i| format!("m{i:02}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    storage.create_campaign(&campaign("c", true)).await.unwrap();
    storage
        .create_day_sketches(&day_sketches("c", 1, &refs))
        .await
        .unwrap();
    // Blinds that cancel modulo ℓ: member i sends (i + 1, 1) + blind_i.
    let l = BigInt::from(crypto::ell().clone());
    let blinds: Vec<BigInt> = (0..members.len())
        .map(|i| BigInt::from(7_919_u64 * (i as u64 + 1)).pow(9) % &l)
        .collect();
    let total: BigInt = blinds.iter().sum();
    let mut tasks = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let storage = storage.clone();
        let mut blind = blinds[i].clone();
        if i == members.len() - 1 {
            blind -= &total;
        }
        let values: Vec<BigUint> = [BigInt::from(i as i64 + 1), BigInt::from(1)]
            .iter()
            .map(|v| crypto::reduce(&(v + &blind)))
            .collect();
        let sub = Submission {
            sketch_name: format!("c-1-{m}"),
            encrypted: Some(values),
            raw: Some(vec![i as i64 + 1, 1]),
        };
        tasks.push(tokio::spawn(async move { storage.submit(&sub).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok(SubmitOutcome::Accepted));
    }
    let groups = storage.day_groups("c", 1).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].submitted, 12);
    assert_eq!(groups[0].encrypted, 12);
    assert_eq!(crypto::decrypt(&groups[0].sum), Some(vec![78, 12]));
    assert_eq!(storage.day_raw_sum("c", 1).await, Ok(Some(vec![78, 12])));
    let again = Submission {
        sketch_name: "c-1-m00".into(),
        encrypted: None,
        raw: None,
    };
    assert_eq!(
        storage.submit(&again).await,
        Ok(SubmitOutcome::AlreadySubmitted)
    );
    assert_eq!(storage.day_groups("c", 1).await.unwrap()[0].submitted, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_claiming_one_firing_at_once_exactly_one_wins() {
    require_mysql!();
    let db = TestDb::new();
    let a = db.storage(2).await;
    let b = db.storage(2).await;
    let firing = utc("2018-05-13T00:30:00Z");
    let now = utc("2018-05-13T00:30:01Z");
    let lease = utc("2018-05-13T01:30:00Z");
    for round in 0..10 {
        let job = format!("aggregate-sketches-{round}");
        let (ja, jb) = (job.clone(), job.clone());
        let (sa, sb) = (a.clone(), b.clone());
        let ta = tokio::spawn(async move { sa.claim_job(&ja, firing, "a", now, lease).await });
        let tb = tokio::spawn(async move { sb.claim_job(&jb, firing, "b", now, lease).await });
        let (ra, rb) = (ta.await.unwrap().unwrap(), tb.await.unwrap().unwrap());
        assert!(ra ^ rb, "round {round}: a {ra}, b {rb}");
        let winner = if ra { "a" } else { "b" };
        a.complete_job(&job, firing, winner).await.unwrap();
        assert_eq!(b.last_completed(&job).await, Ok(Some(firing)));
        assert_eq!(a.claim_job(&job, firing, "a", now, lease).await, Ok(false));
    }
}

/// The previous server's DDL, as `migrations/001_legacy_schema.sql` holds it.
pub const LEGACY_DDL: &str = "
CREATE TABLE clients (unused_id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) UNIQUE,
  createTime TIMESTAMP, publicKey VARCHAR(255), browser VARCHAR(255),
  externalName VARCHAR(255) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE campaigns (unused_id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) UNIQUE,
  createTime TIMESTAMP, displayName VARCHAR(255), email TEXT NOT NULL, notes TEXT NOT NULL,
  vocabulary LONGTEXT NOT NULL, startTime TIMESTAMP NULL, endTime TIMESTAMP NULL, delay INT,
  graceDelay INT, groupSize INT, samplingRate DOUBLE NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE aggregations (unused_id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) UNIQUE,
  campaignName VARCHAR(255), day INT, decryptedValues LONGTEXT, rawValues LONGTEXT,
  activeCount INT, submittedCount INT, decryptedCount INT) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE sketches (unused_id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) UNIQUE,
  createTime TIMESTAMP, clientName VARCHAR(255), campaignName VARCHAR(255), `group` INT,
  day INT, publicKey VARCHAR(255), queriesCount INT, encryptedValues LONGTEXT,
  rawValues LONGTEXT, submitted TINYINT, INDEX (campaignName, day, `group`),
  INDEX (clientName)) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE activity (unused_id INT AUTO_INCREMENT PRIMARY KEY, clientName VARCHAR(255),
  time TIMESTAMP, countryCode VARCHAR(2) NOT NULL, timezone VARCHAR(50) NOT NULL,
  extensionVersion VARCHAR(50) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8;
";

/// Rows as the previous server wrote them: '' for absent values, vocabulary lines, values
/// separated by spaces, encrypted values one per line.
pub fn legacy_rows(l: &BigInt) -> String {
    // Group 0 of day 3: x and y both submitted, blinds +b and −b cancel: counts (2, 1) and
    // (1, 0). Group 1: z submitted, w did not.
    let b = BigInt::from(123_456_789_u64).pow(4) % l;
    let x = [
        BigInt::from(2) + &b,
        BigInt::from(1) + &b,
        BigInt::from(0) + &b,
    ];
    let y = [
        BigInt::from(1) - &b,
        BigInt::from(0) - &b,
        BigInt::from(0) - &b,
    ];
    let lines = |v: &[BigInt]| {
        v.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "INSERT INTO clients (name, createTime, publicKey, browser, externalName) VALUES
           ('x', '2018-04-01 08:00:00', '04aa', 'chrome', ''),
           ('y', '2018-04-02 09:30:15', '04bb', 'firefox', 'panel-7'),
           ('z', '2018-04-03 10:00:00', '04cc', 'chrome', ''),
           ('w', '2018-04-03 11:00:00', '04dd', 'chrome', '');
         INSERT INTO campaigns (name, createTime, displayName, email, notes, vocabulary,
           startTime, endTime, delay, graceDelay, groupSize, samplingRate) VALUES
           ('flu', '2018-04-20 12:00:00', 'Flu watch', 'lab@example.org', '',
            'flu\\nfever,cough,\\nsore throat', '2018-05-01 00:00:00', NULL, 1, 2, 2, NULL),
           ('old', '2018-03-01 12:00:00', 'Old', '', 'ran in March', 'a,b,',
            '2018-03-02 00:00:00', '2018-03-20 00:00:00', 0, 0, 5, 0.5);
         INSERT INTO activity (clientName, time, countryCode, timezone, extensionVersion) VALUES
           ('x', '2018-05-03 10:00:00', 'FR', 'Europe/Paris', '1.0.1'),
           ('x', '2018-05-04 10:00:00', '', '', ''),
           ('y', '2018-05-04 12:00:00', 'GB', 'Europe/London', '1.0.0');
         INSERT INTO aggregations (name, campaignName, day, decryptedValues, rawValues,
           activeCount, submittedCount, decryptedCount) VALUES
           ('flu-0', 'flu', 0, '3 1 0', '3 1 0', 4, 3, 2),
           ('flu-1', 'flu', 1, '', '', 4, 1, 0);
         INSERT INTO sketches (name, createTime, clientName, campaignName, `group`, day,
           publicKey, queriesCount, encryptedValues, rawValues, submitted) VALUES
           ('s-x', '2018-05-04 00:00:00', 'x', 'flu', 0, 3, '04aa', 2, '{x}', '2 1 0', 1),
           ('s-y', '2018-05-04 00:00:00', 'y', 'flu', 0, 3, '04bb', 2, '{y}', '1 0 0', 1),
           ('s-z', '2018-05-04 00:00:00', 'z', 'flu', 1, 3, '04cc', 2, '{z}', '5 5 5', 1),
           ('s-w', '2018-05-04 00:00:00', 'w', 'flu', 1, 3, '04dd', 2, '', '', 0);",
        x = lines(&x),
        y = lines(&y),
        z = lines(&[BigInt::from(9), BigInt::from(9), BigInt::from(9)]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_database_is_upgraded_in_place_keeping_its_data() {
    require_mysql!();
    let db = TestDb::new();
    db.exec(LEGACY_DDL);
    let l = BigInt::from(crypto::ell().clone());
    db.exec(&legacy_rows(&l));
    let storage = db.storage(2).await;
    assert_eq!(version_rows(&db).len(), latest_version() as usize);

    // Clients: '' external names became absent, times kept to the second, in UTC.
    let x = storage.get_client("x").await.unwrap().unwrap();
    assert_eq!(
        x.client,
        Client {
            name: "x".into(),
            create_time: utc("2018-04-01T08:00:00Z"),
            public_key: "04aa".into(),
            browser: "chrome".into(),
            external_name: None,
        }
    );
    assert_eq!(
        x.latest_activity,
        Some(Activity {
            client_name: "x".into(),
            time: utc("2018-05-04T10:00:00Z"),
            country_code: None,
            extension_version: None,
            timezone: None,
        })
    );
    let y = storage.get_client("y").await.unwrap().unwrap().client;
    assert_eq!(y.external_name.as_deref(), Some("panel-7"));
    assert_eq!(storage.count_clients().await, Ok(4));
    let activity = storage.list_activity(None, None).await.unwrap();
    assert_eq!(activity.len(), 3);
    assert_eq!(
        activity[0],
        Activity {
            client_name: "x".into(),
            time: utc("2018-05-03T10:00:00Z"),
            country_code: Some("FR".into()),
            extension_version: Some("1.0.1".into()),
            timezone: Some("Europe/Paris".into()),
        }
    );

    // Campaigns: the vocabulary format parsed; raw collection kept where the old server did it.
    let flu = storage.get_campaign("flu").await.unwrap().unwrap();
    assert_eq!(
        flu,
        Campaign {
            name: "flu".into(),
            create_time: utc("2018-04-20T12:00:00Z"),
            display_name: "Flu watch".into(),
            email: Some("lab@example.org".into()),
            notes: None,
            vocabulary: Vocabulary {
                queries: vec![
                    Query::Exact("flu".into()),
                    Query::Terms(vec!["fever".into(), "cough".into()]),
                    Query::Exact("sore throat".into()),
                ]
            },
            start_time: Some(utc("2018-05-01T00:00:00Z")),
            end_time: None,
            delay: 1,
            grace_delay: 2,
            group_size: 2,
            sampling_rate: None,
            collect_encrypted: true,
            collect_raw: true,
            // Columns added since: the defaults, under which nothing was rejected or withheld.
            max_count: 10_000,
            min_decrypted_count: 0,
        }
    );
    let old = storage.get_campaign("old").await.unwrap().unwrap();
    assert_eq!(old.email, None);
    assert_eq!(old.notes.as_deref(), Some("ran in March"));
    assert_eq!(old.sampling_rate, Some(0.5));
    assert!(!old.collect_raw);
    assert_eq!(
        old.vocabulary.queries,
        vec![Query::Terms(vec!["a".into(), "b".into()])]
    );
    assert_eq!(
        storage
            .list_campaigns()
            .await
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        vec!["flu", "old"]
    );

    // Results kept.
    let aggs = storage.list_aggregations("flu").await.unwrap();
    assert_eq!(aggs.len(), 2);
    assert_eq!(aggs[1].decrypted_values, vec![3, 1, 0]);
    assert_eq!(aggs[1].raw_values, vec![3, 1, 0]);
    assert_eq!(aggs[1].stats.active_count, 4);
    assert_eq!(aggs[1].stats.decrypted_count, 2);
    assert_eq!(aggs[0].decrypted_values, Vec::<i64>::new());
    assert!(aggs
        .iter()
        .all(|a| a.stats.rejected_count == 0 && !a.withheld));
    assert_eq!(old.max_count, 10_000);
    assert_eq!(old.min_decrypted_count, 0);

    // Sketches folded into groups: per-person vectors gone, sums and counts kept.
    let groups = storage.day_groups("flu", 3).await.unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].public_keys, vec!["04aa", "04bb"]);
    assert_eq!((groups[0].submitted, groups[0].encrypted), (2, 2));
    assert_eq!(crypto::decrypt(&groups[0].sum), Some(vec![3, 1, 0]));
    assert_eq!(groups[1].public_keys, vec!["04dd", "04cc"]);
    assert_eq!((groups[1].submitted, groups[1].encrypted), (1, 1));
    assert_eq!(groups[1].queries_count, 2);
    assert_eq!(storage.day_raw_sum("flu", 3).await, Ok(Some(vec![8, 6, 5])));
    let w = storage.get_sketch("s-w").await.unwrap().unwrap();
    assert!(!w.submitted);
    assert_eq!((w.day, w.group, w.queries_count), (3, 1, 2));
    // w's open sketch comes with its group's keys at its next ping.
    let open = storage
        .record_ping(&Activity {
            client_name: "w".into(),
            time: utc("2018-05-05T08:00:00Z"),
            country_code: None,
            extension_version: None,
            timezone: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(*open[0].public_keys, vec!["04dd", "04cc"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_migration_resumes_after_its_last_recorded_statement() {
    require_mysql!();
    let db = TestDb::new();
    drop(db.storage(1).await);
    // As if the server died after adding `sketches_by_client` (the second-to-last statement of
    // migration 3) but before recording it, and before adding `sketches_by_day`.
    let steps = pdd_server::adapters::storage::mysql::migrate::steps(
        pdd_server::adapters::storage::mysql::migrate::MIGRATIONS[2].sql,
    )
    .len();
    let mut conn = db.conn();
    conn.query_drop("ALTER TABLE sketches DROP INDEX sketches_by_day")
        .unwrap();
    conn.exec_drop(
        "UPDATE schema_version SET stepsDone = ?, appliedTime = NULL WHERE version = 3",
        (steps - 2,),
    )
    .unwrap();
    let storage = db.storage(1).await;
    let rows = version_rows(&db);
    assert_eq!(rows[2].1 as usize, steps);
    assert!(rows[2].2.is_some());
    let index: Vec<String> = conn
        .query(
            "SELECT DISTINCT index_name FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = 'sketches' \
             AND index_name = 'sketches_by_day'",
        )
        .unwrap();
    assert_eq!(index, vec!["sketches_by_day".to_string()]);
    assert_eq!(storage.health().await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_newer_than_the_server_is_refused() {
    require_mysql!();
    let db = TestDb::new();
    drop(db.storage(1).await);
    db.conn()
        .exec_drop(
            "INSERT INTO schema_version (version, name, stepsDone, appliedTime) \
             VALUES (?, 'from_the_future', 1, UTC_TIMESTAMP(3))",
            (latest_version() + 1,),
        )
        .unwrap();
    let storage = MysqlStorage::start(mysql_support::config(&mysql_support::server(), &db.name, 1));
    assert!(!storage.wait_ready(Duration::from_secs(2)).await);
    match storage.health().await {
        Err(StorageError::Unavailable(why)) => assert!(why.contains("newer"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[derive(Default)]
struct RecordedCalls(std::sync::Mutex<Vec<(String, bool)>>);

impl pdd_server::ports::Metrics for RecordedCalls {
    fn storage_call(&self, operation: &str, _latency: Duration, ok: bool) {
        self.0.lock().unwrap().push((operation.to_string(), ok));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_call_is_recorded_in_metrics_with_its_outcome() {
    require_mysql!();
    let db = TestDb::new();
    let metrics = Arc::new(RecordedCalls::default());
    let storage = MysqlStorage::start_with_metrics(
        mysql_support::config(&mysql_support::server(), &db.name, 1),
        Some(metrics.clone()),
    );
    assert!(storage.wait_ready(Duration::from_secs(20)).await);
    storage.create_client(&client("a")).await.unwrap();
    assert_eq!(
        storage.create_client(&client("a")).await,
        Err(StorageError::AlreadyExists)
    );
    storage.get_client("a").await.unwrap();
    assert_eq!(
        *metrics.0.lock().unwrap(),
        vec![
            ("create_client".to_string(), true),
            ("create_client".to_string(), true),
            ("get_client".to_string(), true),
        ]
    );
}

/// (table, index) of each step of a plan.
type Plan = Vec<(String, Option<String>)>;

/// The `key` EXPLAIN reports for each table of `sql`, in plan order.
fn keys_used(conn: &mut r2d2_mysql::mysql::Conn, sql: &str) -> Plan {
    let rows: Vec<r2d2_mysql::mysql::Row> = conn.query(format!("EXPLAIN {sql}")).unwrap();
    rows.into_iter()
        .map(|r| {
            let table: Option<String> = r.get("table").unwrap();
            let key: Option<String> = r.get("key").unwrap();
            (table.unwrap_or_default(), key)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_queries_are_served_by_indexes() {
    require_mysql!();
    let db = TestDb::new();
    drop(db.storage(1).await);
    let mut conn = db.conn();
    // Enough rows that a scan would cost more than an index: 400 clients, 10 days of
    // activity each, 3 campaigns × 5 days of sketches in groups of 4.
    for chunk in 0..4 {
        let clients: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    "('c{:03}', '2018-05-01 00:00:{:02}', '04ab', 'chrome')",
                    chunk * 100 + i,
                    i % 60
                )
            })
            .collect();
        conn.query_drop(format!(
            "INSERT INTO clients (name, createTime, publicKey, browser) VALUES {}",
            clients.join(",")
        ))
        .unwrap();
        let activity: Vec<String> = (0..100)
            .flat_map(|i| {
                (1..=10)
                    .map(move |d| format!("('c{:03}', '2018-05-{d:02} 10:00:00')", chunk * 100 + i))
            })
            .collect();
        conn.query_drop(format!(
            "INSERT INTO activity (clientName, time) VALUES {}",
            activity.join(",")
        ))
        .unwrap();
    }
    for campaign in ["a", "b", "c"] {
        for day in 0..5 {
            let sketches: Vec<String> = (0..400)
                .map(|i| format!("('{campaign}-{day}-{i}', '2018-05-01', 'c{i:03}', '{campaign}', {day}, {}, 2, 0)", i / 4))
                .collect();
            conn.query_drop(format!(
                "INSERT INTO sketches (name, createTime, clientName, campaignName, day, `group`, queriesCount, submitted) VALUES {}",
                sketches.join(",")
            ))
            .unwrap();
            let groups: Vec<String> = (0..100)
                .map(|g| format!("('{campaign}', {day}, {g}, '[]', 2, 0, 0, '')"))
                .collect();
            conn.query_drop(format!(
                "INSERT INTO sketch_groups (campaignName, day, groupId, publicKeys, queriesCount, submittedCount, encryptedCount, encryptedSum) VALUES {}",
                groups.join(",")
            ))
            .unwrap();
        }
    }
    conn.query_drop("ANALYZE TABLE clients, activity, sketches, sketch_groups, aggregations")
        .unwrap();
    let k = |s: &str| Some(s.to_string());
    let cases: Vec<(&str, Plan)> = vec![
        (
            "SELECT s.name, g.publicKeys FROM sketches s LEFT JOIN sketch_groups g \
             ON g.campaignName = s.campaignName AND g.day = s.day AND g.groupId = s.`group` \
             WHERE s.clientName = 'c007' AND s.submitted = 0",
            vec![("s".into(), k("sketches_by_client")), ("g".into(), k("PRIMARY"))],
        ),
        (
            "SELECT clientName FROM activity WHERE clientName = 'c007' ORDER BY time DESC, unused_id DESC LIMIT 1",
            vec![("activity".into(), k("activity_by_client"))],
        ),
        (
            "SELECT DISTINCT clientName FROM activity WHERE time >= '2018-05-03' AND time < '2018-05-04'",
            vec![("activity".into(), k("activity_by_time"))],
        ),
        (
            "SELECT name FROM clients WHERE createTime < '2018-05-01 00:00:30' OR \
             (createTime = '2018-05-01 00:00:30' AND name < 'c100') ORDER BY createTime DESC, name DESC LIMIT 10",
            vec![("clients".into(), k("clients_by_time"))],
        ),
        (
            "SELECT groupId FROM sketch_groups WHERE campaignName = 'b' AND day = 3 ORDER BY groupId",
            vec![("sketch_groups".into(), k("PRIMARY"))],
        ),
        (
            "SELECT name FROM sketches WHERE campaignName = 'b' AND day < 1",
            vec![("sketches".into(), k("sketches_by_day"))],
        ),
        (
            "SELECT submitted FROM sketches WHERE name = 'b-3-17'",
            vec![("sketches".into(), k("name"))],
        ),
        (
            "SELECT clientName, time FROM activity WHERE clientName IN ('c001', 'c002') \
             AND time >= '2018-05-02' AND time < '2018-05-05'",
            vec![("activity".into(), k("activity_by_client"))],
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(keys_used(&mut conn, sql), expected, "{sql}");
    }
}
