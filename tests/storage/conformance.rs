//! Generic conformance cases for `Storage` adapters: each case is an async function taking a
//! fresh, empty storage and checking one part of the contract documented in
//! `src/ports/storage.rs`.
//!
//! Instantiate the whole suite for an adapter with one macro call in this test binary (in
//! `main.rs`, or in a module such as `mysql.rs` declared there after
//! `#[macro_use] mod conformance;`):
//!
//! ```ignore
//! conformance_tests!(memory, || async { Arc::new(MemoryStorage::new()) as Arc<dyn Storage> });
//! ```
//!
//! It generates `mod <name>` with one `#[tokio::test]` (multi-threaded runtime) per case. The
//! factory is an expression evaluated inside that module (which does `use super::*`, so names
//! imported by the calling module are in scope): a closure called once per test, returning a
//! future whose output is any [`Instance`]:
//! - `Arc<dyn Storage>`: a fresh storage;
//! - `(Arc<dyn Storage>, G)` with `G: Send + 'static`: a storage and a guard kept alive until
//!   the test ends and dropped after it (e.g. one that drops a per-test database);
//! - `Option<T>` of either: `None` skips the test (printed on stderr), e.g. when no database
//!   server is reachable.
//!
//! All times are millisecond-precise (storage keeps milliseconds) and within 1970–2038.
//! Optional texts are never `Some("")` (legacy columns store absence as '').

use std::any::Any;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use num_bigint::BigUint;

use pdd_server::domain::campaign::{Campaign, Query, Vocabulary};
use pdd_server::domain::client::{Activity, Client, ClientDetails};
use pdd_server::domain::crypto::ell;
use pdd_server::domain::sketch::{Aggregation, Group, OpenSketch, Sketch, Stats, Submission};
use pdd_server::domain::time::Day;
use pdd_server::ports::storage::{ClientCursor, DaySketches, SubmitOutcome};
use pdd_server::ports::{Storage, StorageError};

/// What a conformance factory may return; see the module doc.
pub trait Instance {
    /// The storage to test and a guard to drop after the test, or `None` to skip it.
    fn into_instance(self) -> Option<(Arc<dyn Storage>, Box<dyn Any + Send>)>;
}

impl Instance for Arc<dyn Storage> {
    fn into_instance(self) -> Option<(Arc<dyn Storage>, Box<dyn Any + Send>)> {
        Some((self, Box::new(())))
    }
}

impl<G: Send + 'static> Instance for (Arc<dyn Storage>, G) {
    fn into_instance(self) -> Option<(Arc<dyn Storage>, Box<dyn Any + Send>)> {
        Some((self.0, Box::new(self.1)))
    }
}

impl<T: Instance> Instance for Option<T> {
    fn into_instance(self) -> Option<(Arc<dyn Storage>, Box<dyn Any + Send>)> {
        self.and_then(Instance::into_instance)
    }
}

/// `conformance_tests!(name, factory)`: one `#[tokio::test]` per case, in `mod name`.
#[macro_export]
macro_rules! conformance_tests {
    ($backend:ident, $factory:expr) => {
        $crate::conformance_tests!(@cases $backend, $factory, [
            health_answers_ok_and_kind_is_named,
            campaign_round_trips_and_unknown_is_none,
            create_campaign_with_taken_name_is_already_exists,
            list_campaigns_is_newest_first_with_ties_by_name,
            replace_campaign_replaces_and_unknown_is_not_found,
            delete_campaign_removes_its_aggregations_sketches_groups_and_raw_sums,
            delete_unknown_campaign_is_not_found,
            client_round_trips_and_unknown_is_none,
            create_client_with_taken_name_is_already_exists,
            get_client_has_latest_activity_by_time,
            replace_client_replaces_and_unknown_is_not_found,
            delete_client_removes_activity_keeps_sketches_and_unknown_is_not_found,
            list_clients_pages_newest_first_with_ties_by_name_descending,
            count_clients_counts_registered_clients,
            list_activity_is_oldest_first_with_ties_by_client_and_since_inclusive,
            record_ping_for_unknown_client_writes_nothing,
            record_ping_returns_open_sketches_by_campaign_then_day_with_group_keys,
            active_clients_are_distinct_existing_sorted_in_half_open_interval,
            activity_times_lists_given_clients_in_half_open_interval,
            prune_clients_deletes_old_clients_without_recent_activity,
            delete_activity_before_is_strict_and_counts,
            create_day_sketches_stores_groups_and_sketches,
            create_day_sketches_twice_is_already_exists_and_writes_nothing,
            create_day_sketches_with_taken_sketch_name_writes_nothing,
            submit_unknown_sketch_is_not_found,
            submit_folds_encrypted_mod_ell_and_sums_raw,
            submit_twice_is_already_submitted_and_changes_nothing,
            concurrent_submissions_to_one_group_are_each_counted_once,
            day_groups_and_raw_sum_of_unknown_day_are_empty,
            delete_sketches_before_removes_earlier_days_of_one_campaign,
            delete_orphan_sketches_removes_sketches_of_deleted_clients,
            delete_orphan_sketches_removes_everything_of_missing_campaigns,
            aggregations_are_upserted_and_listed_newest_day_first,
            job_ledger_claims_completes_and_releases,
            job_claim_refuses_live_lease_of_another_owner_and_takes_expired_one,
            job_complete_keeps_the_later_firing,
        ]);
    };
    (@cases $backend:ident, $factory:expr, [$($case:ident),* $(,)?]) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let factory = $factory;
                    let Some((storage, guard)) =
                        $crate::conformance::Instance::into_instance(factory().await)
                    else {
                        eprintln!("{}: storage unavailable, test skipped", stringify!($backend));
                        return;
                    };
                    $crate::conformance::$case(storage).await;
                    drop(guard);
                }
            )*
        }
    };
}

// ---- fixtures

/// A millisecond-precise instant `ms` milliseconds after 2018-05-12T10:00:00.000Z.
pub fn t(ms: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2018-05-12T10:00:00.000Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::milliseconds(ms)
}

const HOUR: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR;

fn campaign(name: &str, create_time: DateTime<Utc>) -> Campaign {
    Campaign {
        name: name.to_string(),
        create_time,
        display_name: format!("Campaign {name}"),
        email: Some("lab@example.org".into()),
        notes: Some("line one\nline two".into()),
        vocabulary: Vocabulary {
            queries: vec![
                Query::Exact("flu".into()),
                Query::Terms(vec!["flu".into(), "fever".into()]),
                Query::Exact("cold".into()),
            ],
        },
        start_time: Some(t(-3 * DAY_MS + 123)),
        end_time: Some(t(30 * DAY_MS + 456)),
        delay: 1,
        grace_delay: 2,
        group_size: 3,
        sampling_rate: Some(0.25),
        collect_encrypted: true,
        collect_raw: true,
    }
}

fn client(name: &str, create_time: DateTime<Utc>) -> Client {
    Client {
        name: name.to_string(),
        create_time,
        public_key: key(name),
        browser: "firefox".into(),
        external_name: None,
    }
}

/// A client's public key: its name in hexadecimal.
fn key(client: &str) -> String {
    client.bytes().map(|b| format!("{b:02x}")).collect()
}

fn activity(client: &str, time: DateTime<Utc>) -> Activity {
    Activity {
        client_name: client.to_string(),
        time,
        country_code: Some("GB".into()),
        extension_version: Some("1.0.3".into()),
        timezone: Some("Europe/London".into()),
    }
}

/// The sketches of one campaign-day: `groups[i]` lists `(sketch name, client)` of group `i`,
/// in the stored order of its public keys.
fn day_sketches(campaign: &str, day: Day, groups: &[&[(&str, &str)]]) -> DaySketches {
    let mut out = DaySketches {
        campaign_name: campaign.to_string(),
        day,
        groups: Vec::new(),
        sketches: Vec::new(),
    };
    for (id, members) in groups.iter().enumerate() {
        out.groups.push(Group {
            campaign_name: campaign.to_string(),
            day,
            group: id as u32,
            public_keys: members.iter().map(|(_, c)| key(c)).collect(),
            queries_count: 2,
            submitted: 0,
            encrypted: 0,
            sum: Vec::new(),
        });
        for (sketch, client) in members.iter() {
            out.sketches.push(Sketch {
                name: sketch.to_string(),
                create_time: t(day * DAY_MS + 7),
                client_name: client.to_string(),
                campaign_name: campaign.to_string(),
                day,
                group: id as u32,
                queries_count: 2,
                submitted: false,
            });
        }
    }
    out
}

fn sketch_of(day: &DaySketches, name: &str) -> Sketch {
    day.sketches
        .iter()
        .find(|s| s.name == name)
        .cloned()
        .unwrap()
}

fn aggregation(campaign: &str, day: Day, active: u64) -> Aggregation {
    Aggregation {
        campaign_name: campaign.to_string(),
        day,
        stats: Stats {
            active_count: active,
            submitted_count: active.saturating_sub(1),
            decrypted_count: active.saturating_sub(2),
        },
        decrypted_values: vec![6, 1, 5],
        raw_values: vec![7, 0, 2],
    }
}

fn big(v: u64) -> BigUint {
    BigUint::from(v)
}

fn names(clients: &[Client]) -> Vec<&str> {
    clients.iter().map(|c| c.name.as_str()).collect()
}

fn submission(sketch: &str, encrypted: Option<Vec<BigUint>>, raw: Option<Vec<i64>>) -> Submission {
    Submission {
        sketch_name: sketch.to_string(),
        encrypted,
        raw,
    }
}

async fn add_clients(s: &Arc<dyn Storage>, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        s.create_client(&client(name, t(i as i64))).await.unwrap();
    }
}

// ---- general

pub async fn health_answers_ok_and_kind_is_named(s: Arc<dyn Storage>) {
    assert_eq!(s.health().await, Ok(()));
    assert!(!s.kind().is_empty());
}

// ---- campaigns

pub async fn campaign_round_trips_and_unknown_is_none(s: Arc<dyn Storage>) {
    let full = campaign("c1", t(5));
    let bare = Campaign {
        email: None,
        notes: None,
        vocabulary: Vocabulary::default(),
        start_time: None,
        end_time: None,
        sampling_rate: None,
        collect_encrypted: false,
        collect_raw: false,
        delay: 0,
        grace_delay: 0,
        group_size: 2,
        ..campaign("c2", t(6))
    };
    s.create_campaign(&full).await.unwrap();
    s.create_campaign(&bare).await.unwrap();
    assert_eq!(s.get_campaign("c1").await.unwrap(), Some(full));
    assert_eq!(s.get_campaign("c2").await.unwrap(), Some(bare));
    assert_eq!(s.get_campaign("c3").await.unwrap(), None);
}

pub async fn create_campaign_with_taken_name_is_already_exists(s: Arc<dyn Storage>) {
    let first = campaign("c", t(0));
    s.create_campaign(&first).await.unwrap();
    let second = Campaign {
        display_name: "Other".into(),
        ..campaign("c", t(1))
    };
    assert_eq!(
        s.create_campaign(&second).await,
        Err(StorageError::AlreadyExists)
    );
    assert_eq!(s.get_campaign("c").await.unwrap(), Some(first));
}

pub async fn list_campaigns_is_newest_first_with_ties_by_name(s: Arc<dyn Storage>) {
    assert_eq!(s.list_campaigns().await.unwrap(), vec![]);
    for (name, time) in [("b", t(1)), ("d", t(0)), ("a", t(1)), ("c", t(2))] {
        s.create_campaign(&campaign(name, time)).await.unwrap();
    }
    let listed: Vec<String> = s
        .list_campaigns()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(listed, vec!["c", "a", "b", "d"]);
}

pub async fn replace_campaign_replaces_and_unknown_is_not_found(s: Arc<dyn Storage>) {
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let mut updated = campaign("c", t(0));
    updated.display_name = "Renamed".into();
    updated
        .vocabulary
        .queries
        .push(Query::Terms(vec!["sore".into(), "throat".into()]));
    updated.end_time = None;
    updated.email = None;
    s.replace_campaign(&updated).await.unwrap();
    assert_eq!(s.get_campaign("c").await.unwrap(), Some(updated));
    assert_eq!(
        s.replace_campaign(&campaign("nope", t(0))).await,
        Err(StorageError::NotFound)
    );
    assert_eq!(s.get_campaign("nope").await.unwrap(), None);
}

pub async fn delete_campaign_removes_its_aggregations_sketches_groups_and_raw_sums(
    s: Arc<dyn Storage>,
) {
    add_clients(&s, &["x", "y"]).await;
    for name in ["c", "c2"] {
        s.create_campaign(&campaign(name, t(0))).await.unwrap();
        s.put_aggregation(&aggregation(name, 0, 2)).await.unwrap();
    }
    s.create_day_sketches(&day_sketches("c", 0, &[&[("s1", "x"), ("s2", "y")]]))
        .await
        .unwrap();
    s.create_day_sketches(&day_sketches("c2", 0, &[&[("t1", "x"), ("t2", "y")]]))
        .await
        .unwrap();
    for sk in ["s1", "t1"] {
        let out = s
            .submit(&submission(sk, Some(vec![big(1); 3]), Some(vec![1, 0, 1])))
            .await
            .unwrap();
        assert_eq!(out, SubmitOutcome::Accepted);
    }

    s.delete_campaign("c").await.unwrap();

    assert_eq!(s.get_campaign("c").await.unwrap(), None);
    assert_eq!(s.list_aggregations("c").await.unwrap(), vec![]);
    assert_eq!(s.get_aggregation("c", 0).await.unwrap(), None);
    assert_eq!(s.get_sketch("s1").await.unwrap(), None);
    assert_eq!(s.get_sketch("s2").await.unwrap(), None);
    assert_eq!(s.day_groups("c", 0).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("c", 0).await.unwrap(), None);
    let open = s.record_ping(&activity("x", t(10))).await.unwrap().unwrap();
    assert_eq!(
        open.iter()
            .map(|o| o.sketch.name.as_str())
            .collect::<Vec<_>>(),
        Vec::<&str>::new(),
        "t1 is submitted; s1 is gone"
    );
    let open = s.record_ping(&activity("y", t(10))).await.unwrap().unwrap();
    assert_eq!(
        open.iter()
            .map(|o| o.sketch.name.as_str())
            .collect::<Vec<_>>(),
        vec!["t2"]
    );

    // The other campaign keeps everything.
    assert!(s.get_campaign("c2").await.unwrap().is_some());
    assert_eq!(
        s.list_aggregations("c2").await.unwrap(),
        vec![aggregation("c2", 0, 2)]
    );
    assert!(s.get_sketch("t1").await.unwrap().is_some());
    assert_eq!(s.day_groups("c2", 0).await.unwrap().len(), 1);
    assert_eq!(s.day_raw_sum("c2", 0).await.unwrap(), Some(vec![1, 0, 1]));
}

pub async fn delete_unknown_campaign_is_not_found(s: Arc<dyn Storage>) {
    assert_eq!(s.delete_campaign("nope").await, Err(StorageError::NotFound));
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.delete_campaign("c").await.unwrap();
    assert_eq!(s.delete_campaign("c").await, Err(StorageError::NotFound));
}

// ---- clients and activity

pub async fn client_round_trips_and_unknown_is_none(s: Arc<dyn Storage>) {
    let plain = client("a", t(1));
    let named = Client {
        external_name: Some("volunteer 7".into()),
        browser: "chrome".into(),
        ..client("b", t(2))
    };
    s.create_client(&plain).await.unwrap();
    s.create_client(&named).await.unwrap();
    assert_eq!(
        s.get_client("a").await.unwrap(),
        Some(ClientDetails {
            client: plain,
            latest_activity: None
        })
    );
    assert_eq!(
        s.get_client("b").await.unwrap(),
        Some(ClientDetails {
            client: named,
            latest_activity: None
        })
    );
    assert_eq!(s.get_client("c").await.unwrap(), None);
}

pub async fn create_client_with_taken_name_is_already_exists(s: Arc<dyn Storage>) {
    let first = client("a", t(1));
    s.create_client(&first).await.unwrap();
    let second = Client {
        public_key: "ffff".into(),
        ..client("a", t(2))
    };
    assert_eq!(
        s.create_client(&second).await,
        Err(StorageError::AlreadyExists)
    );
    assert_eq!(s.get_client("a").await.unwrap().unwrap().client, first);
    assert_eq!(s.count_clients().await.unwrap(), 1);
}

pub async fn get_client_has_latest_activity_by_time(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b"]).await;
    let latest = Activity {
        country_code: None,
        extension_version: Some("2.0.0".into()),
        timezone: None,
        ..activity("a", t(5000))
    };
    // Recorded out of order: the latest is the one with the greatest time.
    s.record_ping(&activity("a", t(1000))).await.unwrap();
    s.record_ping(&latest).await.unwrap();
    s.record_ping(&activity("a", t(3000))).await.unwrap();
    s.record_ping(&activity("b", t(9000))).await.unwrap();
    let details = s.get_client("a").await.unwrap().unwrap();
    assert_eq!(details.latest_activity, Some(latest));
    assert_eq!(details.client, client("a", t(0)));
}

pub async fn replace_client_replaces_and_unknown_is_not_found(s: Arc<dyn Storage>) {
    s.create_client(&client("a", t(1))).await.unwrap();
    let named = Client {
        external_name: Some("lab laptop".into()),
        ..client("a", t(1))
    };
    s.replace_client(&named).await.unwrap();
    assert_eq!(s.get_client("a").await.unwrap().unwrap().client, named);
    let renamed = Client {
        external_name: Some("home".into()),
        ..client("a", t(1))
    };
    s.replace_client(&renamed).await.unwrap();
    assert_eq!(s.get_client("a").await.unwrap().unwrap().client, renamed);
    assert_eq!(
        s.replace_client(&client("nope", t(1))).await,
        Err(StorageError::NotFound)
    );
    assert_eq!(s.get_client("nope").await.unwrap(), None);
    assert_eq!(s.count_clients().await.unwrap(), 1);
}

pub async fn delete_client_removes_activity_keeps_sketches_and_unknown_is_not_found(
    s: Arc<dyn Storage>,
) {
    add_clients(&s, &["a", "b"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches("c", 0, &[&[("s1", "a"), ("s2", "b")]]))
        .await
        .unwrap();
    s.record_ping(&activity("a", t(10))).await.unwrap();
    s.record_ping(&activity("b", t(20))).await.unwrap();

    s.delete_client("a").await.unwrap();

    assert_eq!(s.get_client("a").await.unwrap(), None);
    assert_eq!(s.list_activity(Some("a"), None).await.unwrap(), vec![]);
    assert_eq!(
        s.list_activity(None, None).await.unwrap(),
        vec![activity("b", t(20))]
    );
    assert_eq!(s.count_clients().await.unwrap(), 1);
    // Sketches wait for garbage collection; the group does not change.
    assert!(s.get_sketch("s1").await.unwrap().is_some());
    assert_eq!(
        s.day_groups("c", 0).await.unwrap()[0].public_keys,
        vec![key("a"), key("b")]
    );
    assert_eq!(s.delete_client("a").await, Err(StorageError::NotFound));
    assert_eq!(s.delete_client("nope").await, Err(StorageError::NotFound));
}

pub async fn list_clients_pages_newest_first_with_ties_by_name_descending(s: Arc<dyn Storage>) {
    assert_eq!(s.list_clients(10, None).await.unwrap(), vec![]);
    let all = [
        client("e", t(1)),
        client("b", t(3)),
        client("d", t(3)),
        client("a", t(2)),
        client("c", t(3)),
        client("f", t(0)),
    ];
    for c in &all {
        s.create_client(c).await.unwrap();
    }
    let expected = ["d", "c", "b", "a", "e", "f"];
    assert_eq!(names(&s.list_clients(100, None).await.unwrap()), expected);

    let mut pages = Vec::new();
    let mut cursor: Option<ClientCursor> = None;
    loop {
        let page = s.list_clients(2, cursor.as_ref()).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        let last = page.last().unwrap();
        cursor = Some(ClientCursor {
            create_time: last.create_time,
            name: last.name.clone(),
        });
        pages.push(names(&page).join(""));
    }
    assert_eq!(pages, vec!["dc", "ba", "ef"]);

    // A cursor is a position, not a row: it works even if that client no longer exists.
    let gone = ClientCursor {
        create_time: t(3),
        name: "bb".into(),
    };
    assert_eq!(
        names(&s.list_clients(10, Some(&gone)).await.unwrap()),
        vec!["b", "a", "e", "f"]
    );
    let full = s.list_clients(1, None).await.unwrap();
    assert_eq!(full, vec![all[2].clone()]);
}

pub async fn count_clients_counts_registered_clients(s: Arc<dyn Storage>) {
    assert_eq!(s.count_clients().await.unwrap(), 0);
    add_clients(&s, &["a", "b", "c"]).await;
    assert_eq!(s.count_clients().await.unwrap(), 3);
    s.delete_client("b").await.unwrap();
    assert_eq!(s.count_clients().await.unwrap(), 2);
}

pub async fn list_activity_is_oldest_first_with_ties_by_client_and_since_inclusive(
    s: Arc<dyn Storage>,
) {
    add_clients(&s, &["a", "b", "c"]).await;
    let entries = [
        activity("c", t(300)),
        activity("b", t(100)),
        activity("a", t(200)),
        activity("a", t(100)),
        activity("c", t(100)),
        Activity {
            country_code: None,
            extension_version: None,
            timezone: None,
            ..activity("b", t(400))
        },
    ];
    for a in &entries {
        assert!(s.record_ping(a).await.unwrap().is_some());
    }
    let all = s.list_activity(None, None).await.unwrap();
    let order: Vec<(String, DateTime<Utc>)> = all
        .iter()
        .map(|a| (a.client_name.clone(), a.time))
        .collect();
    let pair = |c: &str, ms| (c.to_string(), t(ms));
    assert_eq!(
        order,
        vec![
            pair("a", 100),
            pair("b", 100),
            pair("c", 100),
            pair("a", 200),
            pair("c", 300),
            pair("b", 400),
        ]
    );
    assert_eq!(all[5], entries[5]);
    assert_eq!(all[0], entries[3]);
    assert_eq!(
        s.list_activity(None, Some(t(200))).await.unwrap(),
        vec![entries[2].clone(), entries[0].clone(), entries[5].clone()]
    );
    assert_eq!(
        s.list_activity(Some("c"), None).await.unwrap(),
        vec![entries[4].clone(), entries[0].clone()]
    );
    assert_eq!(
        s.list_activity(Some("a"), Some(t(101))).await.unwrap(),
        vec![entries[2].clone()]
    );
    assert_eq!(s.list_activity(Some("nope"), None).await.unwrap(), vec![]);
}

pub async fn record_ping_for_unknown_client_writes_nothing(s: Arc<dyn Storage>) {
    add_clients(&s, &["a"]).await;
    assert_eq!(
        s.record_ping(&activity("ghost", t(10))).await.unwrap(),
        None
    );
    assert_eq!(s.list_activity(None, None).await.unwrap(), vec![]);
    assert_eq!(s.list_activity(Some("ghost"), None).await.unwrap(), vec![]);
    assert_eq!(
        s.record_ping(&activity("a", t(20))).await.unwrap(),
        Some(vec![])
    );
    assert_eq!(
        s.list_activity(None, None).await.unwrap(),
        vec![activity("a", t(20))]
    );
}

pub async fn record_ping_returns_open_sketches_by_campaign_then_day_with_group_keys(
    s: Arc<dyn Storage>,
) {
    add_clients(&s, &["m", "z", "a", "k"]).await;
    for c in ["beta", "alpha"] {
        s.create_campaign(&campaign(c, t(0))).await.unwrap();
    }
    // Keys are stored in the given order (callers sort them by client name).
    let beta3 = day_sketches(
        "beta",
        3,
        &[&[("b3m", "m"), ("b3a", "a")], &[("b3z", "z"), ("b3k", "k")]],
    );
    let beta1 = day_sketches("beta", 1, &[&[("b1z", "z"), ("b1m", "m"), ("b1a", "a")]]);
    let alpha2 = day_sketches("alpha", 2, &[&[("a2k", "k"), ("a2m", "m")]]);
    let alpha1 = day_sketches("alpha", 1, &[&[("a1m", "m"), ("a1z", "z")]]);
    for d in [&beta3, &beta1, &alpha2, &alpha1] {
        s.create_day_sketches(d).await.unwrap();
    }
    assert_eq!(
        s.submit(&submission("a1m", Some(vec![big(1); 3]), None))
            .await
            .unwrap(),
        SubmitOutcome::Accepted
    );

    let open = s.record_ping(&activity("m", t(50))).await.unwrap().unwrap();
    assert_eq!(
        open,
        vec![
            OpenSketch {
                sketch: sketch_of(&alpha2, "a2m"),
                public_keys: vec![key("k"), key("m")],
            },
            OpenSketch {
                sketch: sketch_of(&beta1, "b1m"),
                public_keys: vec![key("z"), key("m"), key("a")],
            },
            OpenSketch {
                sketch: sketch_of(&beta3, "b3m"),
                public_keys: vec![key("m"), key("a")],
            },
        ]
    );
    assert_eq!(
        s.list_activity(Some("m"), None).await.unwrap(),
        vec![activity("m", t(50))]
    );
    let open_k = s.record_ping(&activity("k", t(60))).await.unwrap().unwrap();
    assert_eq!(
        open_k
            .iter()
            .map(|o| (o.sketch.name.as_str(), o.public_keys.clone()))
            .collect::<Vec<_>>(),
        vec![
            ("a2k", vec![key("k"), key("m")]),
            ("b3k", vec![key("z"), key("k")]),
        ]
    );
}

pub async fn active_clients_are_distinct_existing_sorted_in_half_open_interval(
    s: Arc<dyn Storage>,
) {
    add_clients(&s, &["d", "b", "a", "c", "e"]).await;
    let (from, to) = (t(DAY_MS), t(2 * DAY_MS));
    for (c, time) in [
        ("d", from),              // at `from`: in
        ("d", t(DAY_MS + HOUR)),  // twice: once
        ("b", t(2 * DAY_MS - 1)), // last millisecond: in
        ("a", to),                // at `to`: out
        ("c", t(DAY_MS - 1)),     // before: out
        ("e", t(DAY_MS + 5)),     // deleted below: out
        ("b", t(DAY_MS + 2 * HOUR)),
    ] {
        s.record_ping(&activity(c, time)).await.unwrap();
    }
    s.delete_client("e").await.unwrap();
    let active = s.active_clients(from, to).await.unwrap();
    assert_eq!(names(&active), vec!["b", "d"]);
    assert_eq!(active[0], client("b", t(1)));
    assert_eq!(
        names(&s.active_clients(t(0), t(3 * DAY_MS)).await.unwrap()),
        vec!["a", "b", "c", "d"]
    );
    assert_eq!(s.active_clients(to, to).await.unwrap(), vec![]);
}

pub async fn activity_times_lists_given_clients_in_half_open_interval(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c"]).await;
    for (c, ms) in [
        ("a", 100),
        ("a", 200),
        ("a", 300),
        ("b", 100),
        ("b", 250),
        ("c", 150),
    ] {
        s.record_ping(&activity(c, t(ms))).await.unwrap();
    }
    let mut times = s
        .activity_times(&["a".into(), "b".into(), "ghost".into()], t(100), t(300))
        .await
        .unwrap();
    times.sort();
    let pair = |c: &str, ms| (c.to_string(), t(ms));
    assert_eq!(
        times,
        vec![
            pair("a", 100),
            pair("a", 200),
            pair("b", 100),
            pair("b", 250)
        ]
    );
    assert_eq!(s.activity_times(&[], t(0), t(1000)).await.unwrap(), vec![]);
}

pub async fn prune_clients_deletes_old_clients_without_recent_activity(s: Arc<dyn Storage>) {
    let threshold = t(10 * DAY_MS);
    let clients = [
        client("old-silent", t(0)),
        client("old-stale", t(0)),
        client("old-at-threshold", t(0)),
        client("old-recent", t(0)),
        client("new-at-threshold", threshold),
        client("new-silent", t(11 * DAY_MS)),
        client("new-just-before", threshold - Duration::milliseconds(1)),
    ];
    for c in &clients {
        s.create_client(c).await.unwrap();
    }
    for (c, time) in [
        ("old-stale", t(DAY_MS)),
        ("old-stale", threshold - Duration::milliseconds(1)),
        ("old-at-threshold", t(DAY_MS)),
        ("old-at-threshold", threshold),
        ("old-recent", t(12 * DAY_MS)),
        ("new-just-before", t(DAY_MS)),
    ] {
        s.record_ping(&activity(c, time)).await.unwrap();
    }

    assert_eq!(s.prune_clients(threshold).await.unwrap(), 3);

    let mut left: Vec<String> = s
        .list_clients(100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![
            "new-at-threshold",
            "new-silent",
            "old-at-threshold",
            "old-recent"
        ]
    );
    assert_eq!(
        s.list_activity(Some("old-stale"), None).await.unwrap(),
        vec![]
    );
    assert_eq!(
        s.list_activity(Some("new-just-before"), None)
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(s.list_activity(None, None).await.unwrap().len(), 3);
    assert_eq!(s.prune_clients(threshold).await.unwrap(), 0);
}

pub async fn delete_activity_before_is_strict_and_counts(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b"]).await;
    for (c, ms) in [("a", 100), ("b", 199), ("a", 200), ("b", 300)] {
        s.record_ping(&activity(c, t(ms))).await.unwrap();
    }
    assert_eq!(s.delete_activity_before(t(200)).await.unwrap(), 2);
    assert_eq!(
        s.list_activity(None, None).await.unwrap(),
        vec![activity("a", t(200)), activity("b", t(300))]
    );
    assert_eq!(s.delete_activity_before(t(200)).await.unwrap(), 0);
    // Clients stay; only their history goes.
    assert_eq!(s.count_clients().await.unwrap(), 2);
    assert_eq!(
        s.get_client("a").await.unwrap().unwrap().latest_activity,
        Some(activity("a", t(200)))
    );
}

// ---- sketches and groups

pub async fn create_day_sketches_stores_groups_and_sketches(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c", "d", "e"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let day = day_sketches(
        "c",
        4,
        &[
            &[("s1", "a"), ("s2", "c"), ("s3", "e")],
            &[("s4", "b"), ("s5", "d")],
        ],
    );
    s.create_day_sketches(&day).await.unwrap();
    for sketch in &day.sketches {
        assert_eq!(
            s.get_sketch(&sketch.name).await.unwrap().as_ref(),
            Some(sketch)
        );
    }
    assert_eq!(s.get_sketch("s6").await.unwrap(), None);
    assert_eq!(s.day_groups("c", 4).await.unwrap(), day.groups);
    assert_eq!(s.day_groups("c", 3).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("c", 4).await.unwrap(), None);
}

pub async fn create_day_sketches_twice_is_already_exists_and_writes_nothing(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let first = day_sketches("c", 1, &[&[("s1", "a"), ("s2", "b")]]);
    s.create_day_sketches(&first).await.unwrap();
    let second = day_sketches("c", 1, &[&[("r1", "a"), ("r2", "b"), ("r3", "c")]]);
    assert_eq!(
        s.create_day_sketches(&second).await,
        Err(StorageError::AlreadyExists)
    );
    for name in ["r1", "r2", "r3"] {
        assert_eq!(s.get_sketch(name).await.unwrap(), None);
    }
    assert_eq!(s.day_groups("c", 1).await.unwrap(), first.groups);
    let open = s.record_ping(&activity("c", t(5))).await.unwrap().unwrap();
    assert_eq!(open, vec![]);
    // Another day of the same campaign is still free.
    let next = day_sketches("c", 2, &[&[("n1", "a"), ("n2", "c")]]);
    s.create_day_sketches(&next).await.unwrap();
    assert_eq!(s.day_groups("c", 2).await.unwrap(), next.groups);
}

pub async fn create_day_sketches_with_taken_sketch_name_writes_nothing(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches("c", 1, &[&[("s1", "a"), ("s2", "b")]]))
        .await
        .unwrap();
    // Day 2 reuses the name s2 for its last sketch: the whole day is refused.
    let clash = day_sketches(
        "c",
        2,
        &[&[("u1", "a"), ("u2", "b")], &[("u3", "c"), ("s2", "a")]],
    );
    assert_eq!(
        s.create_day_sketches(&clash).await,
        Err(StorageError::AlreadyExists)
    );
    assert_eq!(s.day_groups("c", 2).await.unwrap(), vec![]);
    for name in ["u1", "u2", "u3"] {
        assert_eq!(s.get_sketch(name).await.unwrap(), None);
    }
    assert_eq!(s.get_sketch("s2").await.unwrap().unwrap().day, 1);
}

pub async fn submit_unknown_sketch_is_not_found(s: Arc<dyn Storage>) {
    assert_eq!(
        s.submit(&submission("nope", Some(vec![big(1)]), Some(vec![1])))
            .await
            .unwrap(),
        SubmitOutcome::NotFound
    );
}

pub async fn submit_folds_encrypted_mod_ell_and_sums_raw(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c", "d", "e"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let day = day_sketches(
        "c",
        0,
        &[
            &[("s1", "a"), ("s2", "b"), ("s3", "c")],
            &[("s4", "d"), ("s5", "e")],
        ],
    );
    s.create_day_sketches(&day).await.unwrap();
    let l = ell();
    let accepted = [
        submission(
            "s1",
            Some(vec![l - 1u8, big(5), l - 2u8]),
            Some(vec![1, 2, 3]),
        ),
        submission("s2", Some(vec![big(2), l - 3u8, big(7)]), None),
        submission("s3", None, Some(vec![10, 20, 30])),
        submission(
            "s4",
            Some(vec![big(4), big(0), big(9)]),
            Some(vec![0, 0, 1]),
        ),
    ];
    for sub in &accepted {
        assert_eq!(s.submit(sub).await.unwrap(), SubmitOutcome::Accepted);
    }
    let groups = s.day_groups("c", 0).await.unwrap();
    assert_eq!(groups.len(), 2);
    let (g0, g1) = (&groups[0], &groups[1]);
    assert_eq!((g0.group, g0.submitted, g0.encrypted), (0, 3, 2));
    assert_eq!(g0.sum, vec![big(1), big(2), big(5)]);
    assert_eq!(g0.public_keys, vec![key("a"), key("b"), key("c")]);
    assert_eq!(g0.queries_count, 2);
    assert!(!g0.complete());
    assert_eq!((g1.group, g1.submitted, g1.encrypted), (1, 1, 1));
    assert_eq!(g1.sum, vec![big(4), big(0), big(9)]);
    assert_eq!(s.day_raw_sum("c", 0).await.unwrap(), Some(vec![11, 22, 34]));
    for name in ["s1", "s2", "s3", "s4"] {
        assert!(
            s.get_sketch(name).await.unwrap().unwrap().submitted,
            "{name}"
        );
    }
    assert!(!s.get_sketch("s5").await.unwrap().unwrap().submitted);
    let open = s.record_ping(&activity("a", t(5))).await.unwrap().unwrap();
    assert_eq!(open, vec![]);
    let open = s.record_ping(&activity("e", t(5))).await.unwrap().unwrap();
    assert_eq!(open.len(), 1);

    // A submission with neither vector still counts as submitted.
    assert_eq!(
        s.submit(&submission("s5", None, None)).await.unwrap(),
        SubmitOutcome::Accepted
    );
    let g1 = &s.day_groups("c", 0).await.unwrap()[1];
    assert_eq!((g1.submitted, g1.encrypted), (2, 1));
    assert_eq!(g1.sum, vec![big(4), big(0), big(9)]);
}

pub async fn submit_twice_is_already_submitted_and_changes_nothing(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches("c", 0, &[&[("s1", "a"), ("s2", "b")]]))
        .await
        .unwrap();
    let first = submission(
        "s1",
        Some(vec![big(3), big(2), big(1)]),
        Some(vec![3, 2, 1]),
    );
    assert_eq!(s.submit(&first).await.unwrap(), SubmitOutcome::Accepted);
    let before = s.day_groups("c", 0).await.unwrap();
    let again = submission(
        "s1",
        Some(vec![big(9), big(9), big(9)]),
        Some(vec![9, 9, 9]),
    );
    assert_eq!(
        s.submit(&again).await.unwrap(),
        SubmitOutcome::AlreadySubmitted
    );
    assert_eq!(s.day_groups("c", 0).await.unwrap(), before);
    assert_eq!(before[0].sum, vec![big(3), big(2), big(1)]);
    assert_eq!((before[0].submitted, before[0].encrypted), (1, 1));
    assert_eq!(s.day_raw_sum("c", 0).await.unwrap(), Some(vec![3, 2, 1]));
}

pub async fn concurrent_submissions_to_one_group_are_each_counted_once(s: Arc<dyn Storage>) {
    const MEMBERS: usize = 32;
    let members: Vec<(String, String)> = (0..MEMBERS)
        .map(|i| (format!("s{i:02}"), format!("c{i:02}")))
        .collect();
    for (i, (_, c)) in members.iter().enumerate() {
        s.create_client(&client(c, t(i as i64))).await.unwrap();
    }
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let refs: Vec<(&str, &str)> = members
        .iter()
        .map(|(sk, c)| (sk.as_str(), c.as_str()))
        .collect();
    s.create_day_sketches(&day_sketches("c", 0, &[&refs]))
        .await
        .unwrap();

    // Every member submits twice at once; values near ℓ make every fold wrap around.
    let l = ell();
    let mut tasks = Vec::new();
    for round in 0..2 {
        for (i, (sketch, _)) in members.iter().enumerate() {
            let s = s.clone();
            let sub = submission(
                sketch,
                Some(vec![big(1), l - 1u8, big(i as u64)]),
                Some(vec![1, 0, 1 + round]),
            );
            tasks.push(tokio::spawn(async move { s.submit(&sub).await.unwrap() }));
        }
    }
    let mut accepted = 0;
    let mut already = 0;
    for task in tasks {
        match task.await.unwrap() {
            SubmitOutcome::Accepted => accepted += 1,
            SubmitOutcome::AlreadySubmitted => already += 1,
            SubmitOutcome::NotFound => panic!("sketch not found"),
        }
    }
    assert_eq!((accepted, already), (MEMBERS, MEMBERS));
    let group = &s.day_groups("c", 0).await.unwrap()[0];
    assert_eq!(
        (group.submitted, group.encrypted),
        (MEMBERS as u32, MEMBERS as u32)
    );
    let n = MEMBERS as u64;
    assert_eq!(
        group.sum,
        vec![big(n), l - n, big(n * (n - 1) / 2)],
        "each member folded exactly once"
    );
    let raw = s.day_raw_sum("c", 0).await.unwrap().unwrap();
    assert_eq!(raw[..2], [MEMBERS as i64, 0]);
    // Whichever round won for each member, the third count is between 1 and 2 per member.
    assert!((MEMBERS as i64..=2 * MEMBERS as i64).contains(&raw[2]));
    for (sketch, _) in &members {
        assert!(s.get_sketch(sketch).await.unwrap().unwrap().submitted);
    }
}

pub async fn day_groups_and_raw_sum_of_unknown_day_are_empty(s: Arc<dyn Storage>) {
    assert_eq!(s.day_groups("nope", 0).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("nope", 0).await.unwrap(), None);
    add_clients(&s, &["a", "b"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches("c", 2, &[&[("s1", "a"), ("s2", "b")]]))
        .await
        .unwrap();
    s.submit(&submission("s1", None, Some(vec![1, 1, 1])))
        .await
        .unwrap();
    assert_eq!(s.day_groups("c", 1).await.unwrap(), vec![]);
    assert_eq!(s.day_groups("c", 3).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("c", 1).await.unwrap(), None);
    assert_eq!(s.day_raw_sum("c", 2).await.unwrap(), Some(vec![1, 1, 1]));
    // Names that share a prefix are different campaigns.
    assert_eq!(s.day_groups("c-", 2).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("", 2).await.unwrap(), None);
}

pub async fn delete_sketches_before_removes_earlier_days_of_one_campaign(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c"]).await;
    for c in ["c", "cc"] {
        s.create_campaign(&campaign(c, t(0))).await.unwrap();
    }
    s.create_day_sketches(&day_sketches(
        "c",
        1,
        &[&[("c1a", "a"), ("c1b", "b"), ("c1c", "c")]],
    ))
    .await
    .unwrap();
    s.create_day_sketches(&day_sketches("c", 2, &[&[("c2a", "a"), ("c2b", "b")]]))
        .await
        .unwrap();
    s.create_day_sketches(&day_sketches("c", 3, &[&[("c3a", "a"), ("c3b", "b")]]))
        .await
        .unwrap();
    s.create_day_sketches(&day_sketches("cc", 1, &[&[("x1a", "a"), ("x1b", "b")]]))
        .await
        .unwrap();
    for sk in ["c1a", "c2a", "c3a", "x1a"] {
        s.submit(&submission(sk, Some(vec![big(1); 3]), Some(vec![1, 1, 1])))
            .await
            .unwrap();
    }

    assert_eq!(s.delete_sketches_before("c", 3).await.unwrap(), 5);

    for gone in ["c1a", "c1b", "c1c", "c2a", "c2b"] {
        assert_eq!(s.get_sketch(gone).await.unwrap(), None, "{gone}");
    }
    for day in [1, 2] {
        assert_eq!(s.day_groups("c", day).await.unwrap(), vec![]);
        assert_eq!(s.day_raw_sum("c", day).await.unwrap(), None);
    }
    for kept in ["c3a", "c3b", "x1a", "x1b"] {
        assert!(s.get_sketch(kept).await.unwrap().is_some(), "{kept}");
    }
    assert_eq!(s.day_groups("c", 3).await.unwrap().len(), 1);
    assert_eq!(s.day_raw_sum("c", 3).await.unwrap(), Some(vec![1, 1, 1]));
    assert_eq!(s.day_groups("cc", 1).await.unwrap().len(), 1);
    assert_eq!(s.day_raw_sum("cc", 1).await.unwrap(), Some(vec![1, 1, 1]));
    let open = s.record_ping(&activity("b", t(5))).await.unwrap().unwrap();
    assert_eq!(
        open.iter()
            .map(|o| o.sketch.name.as_str())
            .collect::<Vec<_>>(),
        vec!["c3b", "x1b"]
    );
    assert_eq!(s.delete_sketches_before("c", 3).await.unwrap(), 0);
}

pub async fn delete_orphan_sketches_removes_sketches_of_deleted_clients(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b", "c"]).await;
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let day = day_sketches("c", 1, &[&[("s1", "a"), ("s2", "b"), ("s3", "c")]]);
    s.create_day_sketches(&day).await.unwrap();
    s.create_day_sketches(&day_sketches("c", 2, &[&[("t1", "a"), ("t2", "b")]]))
        .await
        .unwrap();
    s.submit(&submission(
        "s1",
        Some(vec![big(2); 3]),
        Some(vec![2, 2, 2]),
    ))
    .await
    .unwrap();
    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 0);

    s.delete_client("a").await.unwrap();
    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 2);

    for gone in ["s1", "t1"] {
        assert_eq!(s.get_sketch(gone).await.unwrap(), None);
    }
    for kept in ["s2", "s3", "t2"] {
        assert!(s.get_sketch(kept).await.unwrap().is_some());
    }
    // The group of a live campaign keeps its keys and its running sums.
    let groups = s.day_groups("c", 1).await.unwrap();
    assert_eq!(groups[0].public_keys, day.groups[0].public_keys);
    assert_eq!((groups[0].submitted, groups[0].encrypted), (1, 1));
    assert_eq!(groups[0].sum, vec![big(2); 3]);
    assert_eq!(s.day_raw_sum("c", 1).await.unwrap(), Some(vec![2, 2, 2]));
    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 0);
}

pub async fn delete_orphan_sketches_removes_everything_of_missing_campaigns(s: Arc<dyn Storage>) {
    add_clients(&s, &["a", "b"]).await;
    s.create_campaign(&campaign("kept", t(0))).await.unwrap();
    s.create_campaign(&campaign("deleted", t(0))).await.unwrap();
    s.create_day_sketches(&day_sketches("kept", 1, &[&[("k1", "a"), ("k2", "b")]]))
        .await
        .unwrap();
    s.create_day_sketches(&day_sketches("deleted", 1, &[&[("d1", "a"), ("d2", "b")]]))
        .await
        .unwrap();
    // Left behind by an older server that deleted campaigns without their sketches.
    s.create_day_sketches(&day_sketches("never", 1, &[&[("n1", "a"), ("n2", "b")]]))
        .await
        .unwrap();
    s.submit(&submission(
        "n1",
        Some(vec![big(1); 3]),
        Some(vec![1, 1, 1]),
    ))
    .await
    .unwrap();
    s.delete_campaign("deleted").await.unwrap();
    assert_eq!(s.get_sketch("d1").await.unwrap(), None);

    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 2);

    for gone in ["n1", "n2", "d1", "d2"] {
        assert_eq!(s.get_sketch(gone).await.unwrap(), None);
    }
    assert_eq!(s.day_groups("never", 1).await.unwrap(), vec![]);
    assert_eq!(s.day_raw_sum("never", 1).await.unwrap(), None);
    assert_eq!(s.day_groups("deleted", 1).await.unwrap(), vec![]);
    assert!(s.get_sketch("k1").await.unwrap().is_some());
    assert_eq!(s.day_groups("kept", 1).await.unwrap().len(), 1);
    assert_eq!(s.delete_orphan_sketches().await.unwrap(), 0);
}

// ---- aggregations

pub async fn aggregations_are_upserted_and_listed_newest_day_first(s: Arc<dyn Storage>) {
    assert_eq!(s.list_aggregations("c").await.unwrap(), vec![]);
    assert_eq!(s.get_aggregation("c", 0).await.unwrap(), None);
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    s.create_campaign(&campaign("c-1", t(0))).await.unwrap();
    let empty = Aggregation {
        stats: Stats::default(),
        decrypted_values: vec![],
        raw_values: vec![],
        ..aggregation("c", 1, 0)
    };
    for a in [
        aggregation("c", 2, 5),
        empty.clone(),
        aggregation("c", 11, 3),
        aggregation("c-1", 1, 4),
    ] {
        s.put_aggregation(&a).await.unwrap();
    }
    let days: Vec<Day> = s
        .list_aggregations("c")
        .await
        .unwrap()
        .iter()
        .map(|a| a.day)
        .collect();
    assert_eq!(days, vec![11, 2, 1]);
    assert_eq!(s.get_aggregation("c", 1).await.unwrap(), Some(empty));
    assert_eq!(
        s.list_aggregations("c-1").await.unwrap(),
        vec![aggregation("c-1", 1, 4)]
    );

    // Putting (campaign, day) again replaces it.
    let replaced = Aggregation {
        stats: Stats {
            active_count: 9,
            submitted_count: 8,
            decrypted_count: 6,
        },
        decrypted_values: vec![-1, i64::MAX, 0, 12],
        raw_values: vec![],
        ..aggregation("c", 2, 5)
    };
    s.put_aggregation(&replaced).await.unwrap();
    assert_eq!(
        s.get_aggregation("c", 2).await.unwrap(),
        Some(replaced.clone())
    );
    let listed = s.list_aggregations("c").await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[1], replaced);
    assert_eq!(s.get_aggregation("c", 3).await.unwrap(), None);
    assert_eq!(s.get_aggregation("d", 2).await.unwrap(), None);
}

// ---- jobs

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
