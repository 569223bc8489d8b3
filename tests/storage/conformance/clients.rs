//! Conformance cases of `ClientStore`: clients and their activity.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use pdd_server::domain::client::{Activity, Client, ClientDetails};
use pdd_server::domain::sketch::OpenSketch;
use pdd_server::ports::storage::{ClientCursor, SubmitOutcome};
use pdd_server::ports::{Storage, StorageError};

use pdd_server::testing::entities::*;

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
                public_keys: vec![key("k"), key("m")].into(),
            },
            OpenSketch {
                sketch: sketch_of(&beta1, "b1m"),
                public_keys: vec![key("z"), key("m"), key("a")].into(),
            },
            OpenSketch {
                sketch: sketch_of(&beta3, "b3m"),
                public_keys: vec![key("m"), key("a")].into(),
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
            .map(|o| (o.sketch.name.as_str(), o.public_keys.to_vec()))
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

pub async fn concurrent_pings_of_one_client_are_all_recorded(s: Arc<dyn Storage>) {
    add_clients(&s, &["a"]).await;
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.record_ping(&activity("a", t(1000 + i))).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok(Some(vec![])));
    }
    let times: Vec<DateTime<Utc>> = s
        .list_activity(Some("a"), None)
        .await
        .unwrap()
        .iter()
        .map(|a| a.time)
        .collect();
    assert_eq!(times, (0..24).map(|i| t(1000 + i)).collect::<Vec<_>>());
    assert_eq!(
        s.get_client("a").await.unwrap().unwrap().latest_activity,
        Some(activity("a", t(1023)))
    );
}
