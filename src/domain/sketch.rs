//! Sketches (one per client, campaign and day), the groups they are blinded within, and the
//! per-day aggregations computed from the groups' running sums.

use chrono::{DateTime, Utc};
use num_bigint::BigUint;

use super::campaign::Campaign;
use super::crypto;
use super::time::Day;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sketch {
    pub name: String,
    pub create_time: DateTime<Utc>,
    pub client_name: String,
    pub campaign_name: String,
    pub day: Day,
    pub group: u32,
    pub queries_count: u32,
    pub submitted: bool,
}

/// A group of one campaign-day: its members' public keys in the order clients blind by
/// (sorted by client name), and the running sums folded in at each submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub campaign_name: String,
    pub day: Day,
    pub group: u32,
    /// Public keys sorted by the members' client names; its length is the group's size.
    pub public_keys: Vec<String>,
    pub queries_count: u32,
    /// Members that submitted (with or without encrypted values).
    pub submitted: u32,
    /// Members that submitted non-empty encrypted values.
    pub encrypted: u32,
    /// Element-wise sum of the encrypted values received, modulo ℓ; empty before any.
    pub sum: Vec<BigUint>,
}

impl Group {
    pub fn size(&self) -> u32 {
        self.public_keys.len() as u32
    }

    pub fn complete(&self) -> bool {
        self.size() > 0 && self.encrypted == self.size()
    }
}

/// An unsubmitted sketch of a client with its group's public keys, as a ping needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSketch {
    pub sketch: Sketch,
    pub public_keys: Vec<String>,
}

/// A validated submission, ready to be folded in: encrypted values already reduced mod ℓ, and
/// only what the campaign collects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub sketch_name: String,
    pub encrypted: Option<Vec<BigUint>>,
    pub raw: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub active_count: u64,
    pub submitted_count: u64,
    pub decrypted_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    pub campaign_name: String,
    pub day: Day,
    pub stats: Stats,
    pub decrypted_values: Vec<i64>,
    pub raw_values: Vec<i64>,
}

impl Aggregation {
    pub fn name(&self) -> String {
        format!("{}-{}", self.campaign_name, self.day)
    }
}

/// The outcome of aggregating one day: the result, and the groups found holding garbage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayAggregate {
    pub aggregation: Aggregation,
    pub garbage_groups: Vec<u32>,
}

/// Adds `b` into `a` element-wise, growing `a` as needed, saturating rather than wrapping.
pub fn add_counts(a: &mut Vec<i64>, b: &[i64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.saturating_add(*y);
    }
}

/// Aggregates day `day` of `campaign` from its groups and its raw running sum.
pub fn aggregate(
    campaign: &Campaign,
    day: Day,
    groups: &[Group],
    raw_sum: Option<&[i64]>,
) -> DayAggregate {
    let mut stats = Stats::default();
    let mut decrypted: Vec<i64> = Vec::new();
    let mut garbage_groups = Vec::new();
    for group in groups {
        stats.active_count += u64::from(group.size());
        stats.submitted_count += u64::from(group.submitted);
        if !group.complete() {
            continue;
        }
        match crypto::decrypt(&group.sum) {
            Some(values) => {
                stats.decrypted_count += u64::from(group.size());
                add_counts(&mut decrypted, &values);
            }
            None => garbage_groups.push(group.group),
        }
    }
    let raw_values = if campaign.collect_raw {
        raw_sum.map(<[i64]>::to_vec).unwrap_or_default()
    } else {
        Vec::new()
    };
    DayAggregate {
        aggregation: Aggregation {
            campaign_name: campaign.name.clone(),
            day,
            stats,
            decrypted_values: decrypted,
            raw_values,
        },
        garbage_groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::{validate, CampaignInput};
    use num_bigint::BigInt;

    fn campaign(collect_raw: bool) -> Campaign {
        validate(&CampaignInput {
            display_name: Some("c".into()),
            collect_raw: Some(collect_raw),
            ..Default::default()
        })
        .unwrap()
        .into_campaign("c".into(), Utc::now())
    }

    fn group(id: u32, size: usize, submitted: u32, encrypted: u32, sum: &[i64]) -> Group {
        Group {
            campaign_name: "c".into(),
            day: 1,
            group: id,
            public_keys: (0..size).map(|i| format!("{i:02x}")).collect(),
            queries_count: sum.len().saturating_sub(1) as u32,
            submitted,
            encrypted,
            sum: sum
                .iter()
                .map(|v| crypto::reduce(&BigInt::from(*v)))
                .collect(),
        }
    }

    #[test]
    fn aggregate_sums_complete_groups_only() {
        let groups = [
            group(0, 3, 3, 3, &[6, 1, 5]),
            group(1, 2, 1, 1, &[999, 999, 999]),
        ];
        let out = aggregate(&campaign(false), 1, &groups, Some(&[9, 9, 9]));
        assert_eq!(
            out.aggregation,
            Aggregation {
                campaign_name: "c".into(),
                day: 1,
                stats: Stats {
                    active_count: 5,
                    submitted_count: 4,
                    decrypted_count: 3
                },
                decrypted_values: vec![6, 1, 5],
                raw_values: vec![],
            }
        );
        assert_eq!(out.aggregation.name(), "c-1");
        assert!(out.garbage_groups.is_empty());
    }

    #[test]
    fn aggregate_counts_garbage_group_as_not_decryptable() {
        let mut huge = group(1, 2, 2, 2, &[1, 1]);
        huge.sum[1] = BigUint::from(u64::MAX); // too large for i64
        let groups = [
            group(0, 2, 2, 2, &[4, 2]),
            group(2, 2, 2, 2, &[3, -1]), // negative sum
            huge,
        ];
        let out = aggregate(&campaign(false), 1, &groups, None);
        assert_eq!(out.aggregation.stats.decrypted_count, 2);
        assert_eq!(out.aggregation.stats.submitted_count, 6);
        assert_eq!(out.aggregation.decrypted_values, vec![4, 2]);
        assert_eq!(out.garbage_groups, vec![2, 1]);
    }

    #[test]
    fn aggregate_group_submitted_without_encrypted_values_is_not_decryptable() {
        let groups = [group(0, 2, 2, 1, &[1, 1])];
        let out = aggregate(&campaign(true), 1, &groups, Some(&[2, 1]));
        assert_eq!(out.aggregation.stats.submitted_count, 2);
        assert_eq!(out.aggregation.stats.decrypted_count, 0);
        assert_eq!(out.aggregation.decrypted_values, Vec::<i64>::new());
        assert_eq!(out.aggregation.raw_values, vec![2, 1]);
    }

    #[test]
    fn add_counts_saturates() {
        let mut a = vec![i64::MAX, 1];
        add_counts(&mut a, &[1, 2, 3]);
        assert_eq!(a, vec![i64::MAX, 3, 3]);
    }
}
