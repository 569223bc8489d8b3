//! Conformance cases of `ClientDayStore`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use pdd_server::domain::client::{Activity, ClientBreakdown, ClientDay};
use pdd_server::ports::Storage;

use pdd_server::testing::entities::*;

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2018, 5, day).unwrap()
}

fn ping(
    client: &str,
    time: DateTime<Utc>,
    country: Option<&str>,
    version: Option<&str>,
) -> Activity {
    Activity {
        client_name: client.to_string(),
        time,
        country_code: country.map(str::to_string),
        extension_version: version.map(str::to_string),
        timezone: None,
    }
}

fn counts(pairs: &[(Option<&str>, u64)]) -> BTreeMap<Option<String>, u64> {
    pairs
        .iter()
        .map(|(k, n)| (k.map(str::to_string), *n))
        .collect()
}

pub async fn count_client_day_counts_registrations_active_and_last_activity_in_half_open_day(
    s: Arc<dyn Storage>,
) {
    let (from, to) = (t(0), t(DAY_MS));
    for (name, created) in [("a", -1), ("b", 0), ("c", DAY_MS - 1), ("d", DAY_MS)] {
        s.create_client(&client(name, t(created))).await.unwrap();
    }
    for a in [
        // a: the ping recorded last counts, even with an earlier time.
        ping("a", t(20), Some("FR"), Some("1.1")),
        ping("a", t(10), Some("GB"), Some("1.0")),
        ping("b", t(-5), Some("DE"), Some("0.9")),
        ping("b", t(30), None, None),
        ping("c", t(DAY_MS - 1), Some("GB"), Some("1.1")),
        ping("c", t(DAY_MS), Some("DE"), Some("2.0")),
        ping("d", t(DAY_MS + 5), Some("DE"), Some("2.0")),
    ] {
        assert!(s.record_ping(&a).await.unwrap().is_some());
    }
    let day = ClientDay {
        date: date(12),
        registrations: 2,
        active: 3,
    };
    let breakdown = ClientBreakdown {
        countries: counts(&[(Some("GB"), 2), (None, 1)]),
        extension_versions: counts(&[(Some("1.0"), 1), (Some("1.1"), 1), (None, 1)]),
    };
    assert_eq!(
        s.count_client_day(date(12), from, to).await.unwrap(),
        (day, breakdown.clone())
    );
    assert_eq!(s.client_days(date(12), date(12)).await.unwrap(), vec![day]);
    assert_eq!(s.client_breakdown(date(12)).await.unwrap(), Some(breakdown));
    assert_eq!(s.client_breakdown(date(13)).await.unwrap(), None);
}

pub async fn count_client_day_again_replaces_the_day_and_its_breakdown(s: Arc<dyn Storage>) {
    let (from, to) = (t(0), t(DAY_MS));
    for name in ["a", "b"] {
        s.create_client(&client(name, t(5))).await.unwrap();
    }
    s.record_ping(&ping("a", t(10), Some("GB"), Some("1.0")))
        .await
        .unwrap();
    s.record_ping(&ping("b", t(11), Some("FR"), Some("1.1")))
        .await
        .unwrap();
    s.count_client_day(date(12), from, to).await.unwrap();
    s.delete_client("b").await.unwrap();
    let day = ClientDay {
        date: date(12),
        registrations: 1,
        active: 1,
    };
    let breakdown = ClientBreakdown {
        countries: counts(&[(Some("GB"), 1)]),
        extension_versions: counts(&[(Some("1.0"), 1)]),
    };
    assert_eq!(
        s.count_client_day(date(12), from, to).await.unwrap(),
        (day, breakdown.clone())
    );
    assert_eq!(s.client_days(date(1), date(31)).await.unwrap(), vec![day]);
    assert_eq!(s.client_breakdown(date(12)).await.unwrap(), Some(breakdown));
    // A day without anyone is stored too, with zeros.
    let empty = ClientDay {
        date: date(20),
        registrations: 0,
        active: 0,
    };
    assert_eq!(
        s.count_client_day(date(20), t(8 * DAY_MS), t(9 * DAY_MS))
            .await
            .unwrap(),
        (empty, ClientBreakdown::default())
    );
    assert_eq!(
        s.client_breakdown(date(20)).await.unwrap(),
        Some(ClientBreakdown::default())
    );
}

pub async fn client_days_are_listed_oldest_first_in_the_closed_range_and_deleted_before(
    s: Arc<dyn Storage>,
) {
    s.create_client(&client("a", t(5))).await.unwrap();
    s.record_ping(&ping("a", t(10), Some("GB"), None))
        .await
        .unwrap();
    // Counted out of order: listed by date.
    for d in [14, 12, 13] {
        let offset = i64::from(d - 12) * DAY_MS;
        s.count_client_day(date(d), t(offset), t(offset + DAY_MS))
            .await
            .unwrap();
    }
    let dates = |days: Vec<ClientDay>| days.iter().map(|d| d.date).collect::<Vec<_>>();
    assert_eq!(
        dates(s.client_days(date(1), date(31)).await.unwrap()),
        vec![date(12), date(13), date(14)]
    );
    assert_eq!(
        dates(s.client_days(date(13), date(14)).await.unwrap()),
        vec![date(13), date(14)]
    );
    assert_eq!(s.client_days(date(14), date(12)).await.unwrap(), vec![]);
    assert_eq!(
        s.client_days(date(12), date(12)).await.unwrap()[0].active,
        1
    );
    assert_eq!(
        s.client_days(date(13), date(13)).await.unwrap()[0].active,
        0
    );

    assert_eq!(s.delete_client_days_before(date(13)).await.unwrap(), 1);
    assert_eq!(s.delete_client_days_before(date(13)).await.unwrap(), 0);
    assert_eq!(
        dates(s.client_days(date(1), date(31)).await.unwrap()),
        vec![date(13), date(14)]
    );
    assert_eq!(s.client_breakdown(date(12)).await.unwrap(), None);
    assert!(s.client_breakdown(date(13)).await.unwrap().is_some());
}

pub async fn schema_version_answers(s: Arc<dyn Storage>) {
    let version = s.schema_version().await.unwrap();
    match s.kind() {
        "memory" => assert_eq!(version, None),
        _ => assert!(version.is_some_and(|v| v >= 6), "{version:?}"),
    }
}
