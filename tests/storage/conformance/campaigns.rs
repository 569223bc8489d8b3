//! Conformance cases of `CampaignStore`.

use std::sync::Arc;

use chrono::SecondsFormat;
use pdd_server::domain::campaign::{Campaign, Query, Vocabulary};
use pdd_server::domain::time::{earliest_time, latest_time};
use pdd_server::ports::storage::SubmitOutcome;
use pdd_server::ports::{Storage, StorageError};

use pdd_server::testing::entities::*;

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

pub async fn campaign_times_at_the_ends_of_the_accepted_range_round_trip(s: Arc<dyn Storage>) {
    let bounds = Campaign {
        create_time: latest_time(),
        start_time: Some(earliest_time()),
        end_time: Some(latest_time()),
        ..campaign("c", t(0))
    };
    s.create_campaign(&bounds).await.unwrap();
    let read = s.get_campaign("c").await.unwrap().unwrap();
    assert_eq!(read, bounds);
    assert_eq!(
        read.end_time
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        Some("9999-12-31T23:59:59.999Z".to_string())
    );
    assert_eq!(
        read.start_time
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        Some("1970-01-01T00:00:00.000Z".to_string())
    );
    let replaced = Campaign {
        start_time: Some(latest_time()),
        end_time: None,
        ..bounds
    };
    s.replace_campaign(&replaced).await.unwrap();
    assert_eq!(s.get_campaign("c").await.unwrap(), Some(replaced));
}

pub async fn campaign_plausibility_bound_and_release_threshold_round_trip(s: Arc<dyn Storage>) {
    let extremes = Campaign {
        max_count: i32::MAX,
        min_decrypted_count: i32::MAX,
        ..campaign("c", t(0))
    };
    let defaults = Campaign {
        max_count: 10_000,
        min_decrypted_count: 0,
        ..campaign("d", t(1))
    };
    s.create_campaign(&extremes).await.unwrap();
    s.create_campaign(&defaults).await.unwrap();
    assert_eq!(s.get_campaign("c").await.unwrap(), Some(extremes.clone()));
    assert_eq!(s.get_campaign("d").await.unwrap(), Some(defaults));
    let lowered = Campaign {
        max_count: 1,
        min_decrypted_count: 0,
        ..extremes
    };
    s.replace_campaign(&lowered).await.unwrap();
    assert_eq!(s.get_campaign("c").await.unwrap(), Some(lowered.clone()));
    assert_eq!(s.list_campaigns().await.unwrap()[1], lowered);
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
