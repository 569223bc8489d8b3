//! Conformance cases of `AggregationStore`.

use std::sync::Arc;

use pdd_server::domain::sketch::{Aggregation, Stats};
use pdd_server::domain::time::Day;
use pdd_server::ports::Storage;

use pdd_server::testing::entities::*;

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
            rejected_count: 3,
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

pub async fn aggregations_keep_rejected_count_and_withheld(s: Arc<dyn Storage>) {
    s.create_campaign(&campaign("c", t(0))).await.unwrap();
    let withheld = Aggregation {
        stats: Stats {
            active_count: 12,
            submitted_count: 11,
            decrypted_count: 3,
            rejected_count: 6,
        },
        decrypted_values: vec![],
        raw_values: vec![],
        withheld: true,
        ..aggregation("c", 4, 12)
    };
    let released = Aggregation {
        stats: Stats {
            rejected_count: u64::from(u32::MAX) * 4,
            ..withheld.stats
        },
        ..aggregation("c", 5, 12)
    };
    s.put_aggregation(&withheld).await.unwrap();
    s.put_aggregation(&released).await.unwrap();
    assert_eq!(
        s.get_aggregation("c", 4).await.unwrap(),
        Some(withheld.clone())
    );
    assert_eq!(
        s.list_aggregations("c").await.unwrap(),
        vec![released.clone(), withheld.clone()]
    );
    // Aggregated again, the day is released and its rejected count replaced.
    let later = Aggregation {
        stats: Stats {
            decrypted_count: 6,
            rejected_count: 0,
            ..withheld.stats
        },
        decrypted_values: vec![9, 2],
        withheld: false,
        ..withheld
    };
    s.put_aggregation(&later).await.unwrap();
    assert_eq!(s.get_aggregation("c", 4).await.unwrap(), Some(later));
    // And withheld again.
    s.put_aggregation(&released).await.unwrap();
    let withheld_again = Aggregation {
        withheld: true,
        decrypted_values: vec![],
        raw_values: vec![],
        ..released
    };
    s.put_aggregation(&withheld_again).await.unwrap();
    assert_eq!(
        s.get_aggregation("c", 5).await.unwrap(),
        Some(withheld_again)
    );
}
