//! Campaigns as a dashboard creates them.

use chrono::{DateTime, Utc};

use crate::domain::campaign::{CampaignInput, QueryInput};

/// An exact-phrase query.
pub fn exact(q: &str) -> QueryInput {
    QueryInput {
        exact: Some(q.into()),
        terms: None,
    }
}

/// A query of all these terms.
pub fn terms(ts: &[&str]) -> QueryInput {
    QueryInput {
        exact: None,
        terms: Some(ts.iter().map(|t| t.to_string()).collect()),
    }
}

/// `n` exact queries, the `q`-th named `name(q)`.
pub fn exact_queries(n: usize, name: impl Fn(usize) -> String) -> Vec<QueryInput> {
    (0..n).map(|q| exact(&name(q))).collect()
}

/// A campaign to create: its name shown, vocabulary, start and group size; everything else
/// left to the defaults (change it with struct update syntax).
pub fn campaign_input(
    display_name: &str,
    vocabulary: Vec<QueryInput>,
    start: DateTime<Utc>,
    group_size: i64,
) -> CampaignInput {
    CampaignInput {
        display_name: Some(display_name.into()),
        vocabulary: Some(vocabulary),
        start_time: Some(start),
        group_size: Some(group_size),
        ..CampaignInput::default()
    }
}
