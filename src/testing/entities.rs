//! Entities as the storage keeps them, for the storage conformance suite (`tests/storage`):
//! times to the millisecond, every optional field filled where the port allows it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use num_bigint::BigUint;

use crate::domain::campaign::{Campaign, Query, Vocabulary};
use crate::domain::client::{Activity, Client};
use crate::domain::sketch::{Aggregation, Group, Sketch, Stats, Submission};
use crate::domain::time::Day;
use crate::ports::storage::DaySketches;
use crate::ports::Storage;

/// A millisecond-precise instant `ms` milliseconds after 2018-05-12T10:00:00.000Z.
pub fn t(ms: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2018-05-12T10:00:00.000Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::milliseconds(ms)
}

/// An hour and a day, in milliseconds (for [`t`]).
pub const HOUR: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR;

/// Campaign `name` created at `create_time`: three queries, every optional field set, raw and
/// encrypted collection, start three days before [`t`]`(0)` and end thirty days after.
pub fn campaign(name: &str, create_time: DateTime<Utc>) -> Campaign {
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
        max_count: 250,
        min_decrypted_count: 4,
    }
}

/// Client `name` created at `create_time`, its public key [`key`]`(name)`.
pub fn client(name: &str, create_time: DateTime<Utc>) -> Client {
    Client {
        name: name.to_string(),
        create_time,
        public_key: key(name),
        browser: "firefox".into(),
        external_name: None,
    }
}

/// A client's public key: its name in hexadecimal.
pub fn key(client: &str) -> String {
    client.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A ping of `client` at `time`, from Great Britain, with its extension version and zone.
pub fn activity(client: &str, time: DateTime<Utc>) -> Activity {
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
pub fn day_sketches(campaign: &str, day: Day, groups: &[&[(&str, &str)]]) -> DaySketches {
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

/// The sketch `name` of a campaign-day; panics when it is not there.
pub fn sketch_of(day: &DaySketches, name: &str) -> Sketch {
    day.sketches
        .iter()
        .find(|s| s.name == name)
        .cloned()
        .unwrap()
}

/// The aggregation of a campaign-day with `active` clients (one fewer submitted, two fewer
/// decrypted, one rejected) and three decrypted and raw values.
pub fn aggregation(campaign: &str, day: Day, active: u64) -> Aggregation {
    Aggregation {
        campaign_name: campaign.to_string(),
        day,
        stats: Stats {
            active_count: active,
            submitted_count: active.saturating_sub(1),
            decrypted_count: active.saturating_sub(2),
            rejected_count: 1,
        },
        decrypted_values: vec![6, 1, 5],
        raw_values: vec![7, 0, 2],
        withheld: false,
    }
}

/// `v` as the unsigned big integer of an encrypted value.
pub fn big(v: u64) -> BigUint {
    BigUint::from(v)
}

/// The clients' names, in their order.
pub fn names(clients: &[Client]) -> Vec<&str> {
    clients.iter().map(|c| c.name.as_str()).collect()
}

/// A submission for `sketch` of these vectors.
pub fn submission(
    sketch: &str,
    encrypted: Option<Vec<BigUint>>,
    raw: Option<Vec<i64>>,
) -> Submission {
    Submission {
        sketch_name: sketch.to_string(),
        encrypted,
        raw,
    }
}

/// Stores [`client`]s of these names, the `i`-th created at [`t`]`(i)`.
pub async fn add_clients(s: &Arc<dyn Storage>, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        s.create_client(&client(name, t(i as i64))).await.unwrap();
    }
}
