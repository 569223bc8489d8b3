//! Sketches (one per client, campaign and day), the groups they are blinded within, and the
//! per-day aggregations computed from the groups' running sums.

use chrono::{DateTime, Utc};
use num_bigint::BigUint;

use super::campaign::Campaign;
use super::crypto;
use super::shared::Shared;
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
    /// Shared by the open sketches of every member of the group.
    pub public_keys: Shared<Vec<String>>,
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
    /// Members of the day's groups (the sketches created).
    pub active_count: u64,
    /// Submissions accepted.
    pub submitted_count: u64,
    /// Members of the groups whose sums decrypted to plausible counts and were added up.
    pub decrypted_count: u64,
    /// Members of the complete groups whose sums were rejected as implausible.
    pub rejected_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    pub campaign_name: String,
    pub day: Day,
    pub stats: Stats,
    pub decrypted_values: Vec<i64>,
    pub raw_values: Vec<i64>,
    /// Fewer members decrypted than the campaign's release threshold: both value lists are
    /// empty, and were never stored.
    pub withheld: bool,
}

impl Aggregation {
    pub fn name(&self) -> String {
        format!("{}-{}", self.campaign_name, self.day)
    }
}

/// The outcome of aggregating one day: the result, and the groups rejected as implausible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayAggregate {
    pub aggregation: Aggregation,
    pub rejected_groups: Vec<u32>,
}

/// A sum or count does not fit a signed 64-bit integer. Never clipped: the caller refuses the
/// operation instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a sum exceeds the largest 64-bit integer")]
pub struct SumOverflow;

/// Adds `b` into `a` element-wise, growing `a` as needed. On overflow `a` is left unchanged.
pub fn add_counts(a: &mut Vec<i64>, b: &[i64]) -> Result<(), SumOverflow> {
    let mut sum = a.clone();
    if sum.len() < b.len() {
        sum.resize(b.len(), 0);
    }
    for (x, y) in sum.iter_mut().zip(b) {
        *x = x.checked_add(*y).ok_or(SumOverflow)?;
    }
    *a = sum;
    Ok(())
}

fn add_count(total: &mut u64, n: u64) -> Result<(), SumOverflow> {
    *total = total.checked_add(n).ok_or(SumOverflow)?;
    Ok(())
}

/// The counts a complete group's sum decrypts to, when every element lies in
/// [0, members × max_count]; `None` rejects the group. A residue in (ℓ/2, ℓ) reads as negative,
/// and a count above the bound is more than its members could have searched: either way a
/// member sent garbage, and adding the group would poison the day.
pub fn plausible_counts(group: &Group, max_count: i32) -> Option<Vec<i64>> {
    let bound = u64::from(group.size()).checked_mul(u64::try_from(max_count).unwrap_or(0))?;
    group
        .sum
        .iter()
        .map(|residue| {
            crypto::decrypt_value(residue).filter(|v| u64::try_from(*v).is_ok_and(|v| v <= bound))
        })
        .collect()
}

/// Aggregates day `day` of `campaign` from its groups and its raw running sum: the sums of the
/// plausible complete groups, the rejected ones named, and the values withheld when fewer
/// members decrypted than the campaign's threshold. `SumOverflow` when a total does not fit 64
/// bits (it cannot with counts bounded by maxCount, short of billions of members a day).
pub fn aggregate(
    campaign: &Campaign,
    day: Day,
    groups: &[Group],
    raw_sum: Option<&[i64]>,
) -> Result<DayAggregate, SumOverflow> {
    let mut stats = Stats::default();
    let mut decrypted: Vec<i64> = Vec::new();
    let mut rejected_groups = Vec::new();
    for group in groups {
        let size = u64::from(group.size());
        add_count(&mut stats.active_count, size)?;
        add_count(&mut stats.submitted_count, u64::from(group.submitted))?;
        if !group.complete() {
            continue;
        }
        match plausible_counts(group, campaign.max_count) {
            Some(values) => {
                add_counts(&mut decrypted, &values)?;
                add_count(&mut stats.decrypted_count, size)?;
            }
            None => {
                add_count(&mut stats.rejected_count, size)?;
                rejected_groups.push(group.group);
            }
        }
    }
    let withheld = stats.decrypted_count < u64::try_from(campaign.min_decrypted_count).unwrap_or(0);
    let raw_values = match raw_sum {
        Some(raw) if campaign.collect_raw && !withheld => raw.to_vec(),
        _ => Vec::new(),
    };
    if withheld {
        decrypted.clear();
    }
    Ok(DayAggregate {
        aggregation: Aggregation {
            campaign_name: campaign.name.clone(),
            day,
            stats,
            decrypted_values: decrypted,
            raw_values,
            withheld,
        },
        rejected_groups,
    })
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
        let out = aggregate(&campaign(false), 1, &groups, Some(&[9, 9, 9])).unwrap();
        assert_eq!(
            out.aggregation,
            Aggregation {
                campaign_name: "c".into(),
                day: 1,
                stats: Stats {
                    active_count: 5,
                    submitted_count: 4,
                    decrypted_count: 3,
                    rejected_count: 0,
                },
                decrypted_values: vec![6, 1, 5],
                raw_values: vec![],
                withheld: false,
            }
        );
        assert_eq!(out.aggregation.name(), "c-1");
        assert!(out.rejected_groups.is_empty());
    }

    #[test]
    fn aggregate_rejects_groups_that_decrypt_to_negative_or_too_large_counts() {
        let mut huge = group(1, 2, 2, 2, &[1, 1]);
        huge.sum[1] = BigUint::from(u64::MAX); // too large for i64
        let groups = [
            group(0, 2, 2, 2, &[4, 2]),
            group(2, 2, 2, 2, &[3, -1]), // negative sum
            huge,
        ];
        let out = aggregate(&campaign(false), 1, &groups, None).unwrap();
        assert_eq!(
            out.aggregation.stats,
            Stats {
                active_count: 6,
                submitted_count: 6,
                decrypted_count: 2,
                rejected_count: 4,
            }
        );
        assert_eq!(out.aggregation.decrypted_values, vec![4, 2]);
        assert_eq!(out.rejected_groups, vec![2, 1]);
    }

    #[test]
    fn a_group_is_plausible_up_to_members_times_max_count_inclusive() {
        let mut c = campaign(false);
        c.max_count = 100;
        let at_bound = group(0, 3, 3, 3, &[300, 0, 300]);
        assert_eq!(plausible_counts(&at_bound, 100), Some(vec![300, 0, 300]));
        let above = group(1, 3, 3, 3, &[301, 0, 0]);
        assert_eq!(plausible_counts(&above, 100), None);
        let below = group(2, 3, 3, 3, &[0, -1, 0]);
        assert_eq!(plausible_counts(&below, 100), None);
        let out = aggregate(&c, 1, &[at_bound, above, below], None).unwrap();
        assert_eq!(out.aggregation.decrypted_values, vec![300, 0, 300]);
        assert_eq!(out.aggregation.stats.decrypted_count, 3);
        assert_eq!(out.aggregation.stats.rejected_count, 6);
        assert_eq!(out.rejected_groups, vec![1, 2]);
    }

    /// The attack that once gave i64::MAX: two complete groups each decrypting to 2^62 + 1.
    #[test]
    fn groups_decrypting_to_two_to_the_62_plus_one_are_rejected_not_clipped() {
        let big = (1i64 << 62) + 1;
        let groups = [
            group(0, 2, 2, 2, &[big, 1]),
            group(1, 2, 2, 2, &[big, 1]),
            group(2, 2, 2, 2, &[7, 1]),
        ];
        let out = aggregate(&campaign(false), 1, &groups, None).unwrap();
        assert_eq!(out.aggregation.decrypted_values, vec![7, 1]);
        assert_eq!(out.aggregation.stats.rejected_count, 4);
        assert_eq!(out.aggregation.stats.decrypted_count, 2);
        assert_eq!(out.rejected_groups, vec![0, 1]);
    }

    #[test]
    fn aggregate_group_submitted_without_encrypted_values_is_not_decryptable() {
        let groups = [group(0, 2, 2, 1, &[1, 1])];
        let out = aggregate(&campaign(true), 1, &groups, Some(&[2, 1])).unwrap();
        assert_eq!(out.aggregation.stats.submitted_count, 2);
        assert_eq!(out.aggregation.stats.decrypted_count, 0);
        assert_eq!(out.aggregation.stats.rejected_count, 0);
        assert_eq!(out.aggregation.decrypted_values, Vec::<i64>::new());
        assert_eq!(out.aggregation.raw_values, vec![2, 1]);
        assert!(!out.aggregation.withheld);
    }

    #[test]
    fn a_day_below_the_release_threshold_keeps_its_stats_and_withholds_its_values() {
        let mut c = campaign(true);
        c.min_decrypted_count = 5;
        let groups = [
            group(0, 2, 2, 2, &[3, 1]),
            group(1, 2, 2, 2, &[4, 0]),
            group(2, 2, 2, 2, &[-5, 0]),
        ];
        let out = aggregate(&c, 1, &groups, Some(&[7, 1])).unwrap();
        assert_eq!(
            out.aggregation,
            Aggregation {
                campaign_name: "c".into(),
                day: 1,
                stats: Stats {
                    active_count: 6,
                    submitted_count: 6,
                    decrypted_count: 4,
                    rejected_count: 2,
                },
                decrypted_values: vec![],
                raw_values: vec![],
                withheld: true,
            }
        );
        // At the threshold the day is released.
        c.min_decrypted_count = 4;
        let out = aggregate(&c, 1, &groups, Some(&[7, 1])).unwrap();
        assert!(!out.aggregation.withheld);
        assert_eq!(out.aggregation.decrypted_values, vec![7, 1]);
        assert_eq!(out.aggregation.raw_values, vec![7, 1]);
        // A day without any group is withheld too when a threshold is set.
        let out = aggregate(&c, 2, &[], None).unwrap();
        assert!(out.aggregation.withheld);
    }

    #[test]
    fn add_counts_refuses_overflow_and_leaves_the_sum_unchanged() {
        let mut a = vec![i64::MAX - 1, 1];
        assert_eq!(add_counts(&mut a, &[1, 2, 3]), Ok(()));
        assert_eq!(a, vec![i64::MAX, 3, 3]);
        let before = a.clone();
        // Would also grow the vector: neither the growth nor the other elements are kept.
        assert_eq!(add_counts(&mut a, &[1, 1, 1, 1]), Err(SumOverflow));
        assert_eq!(a, before);
        let mut low = vec![i64::MIN];
        assert_eq!(add_counts(&mut low, &[-1]), Err(SumOverflow));
        assert_eq!(low, vec![i64::MIN]);
        let mut n = u64::MAX - 1;
        assert_eq!(add_count(&mut n, 1), Ok(()));
        assert_eq!(add_count(&mut n, 1), Err(SumOverflow));
        assert_eq!(n, u64::MAX);
    }

    mod properties {
        use super::*;
        use num_bigint::BigInt;
        use num_traits::ToPrimitive;
        use proptest::prelude::*;

        /// One element a dishonest member could make a group decrypt to.
        fn dishonest_value(bound: i64) -> impl Strategy<Value = BigInt> {
            let half_ell: BigInt = BigInt::from(crypto::ell().clone()) / 2u8;
            prop_oneof![
                (1i64..1_000).prop_map(|v| BigInt::from(-v)),
                (1i64..1_000).prop_map(move |v| BigInt::from(bound) + v),
                Just(BigInt::from((1i64 << 62) + 1)),
                Just(BigInt::from(i64::MAX)),
                Just(BigInt::from(i64::MAX) + 1),
                Just(half_ell.clone()),
                Just(-half_ell.clone() + 1),
                any::<[u8; 31]>().prop_map(|b| BigInt::from_bytes_le(num_bigint::Sign::Plus, &b)),
            ]
        }

        #[derive(Debug, Clone)]
        struct Spec {
            size: u32,
            encrypted: u32,
            values: Vec<BigInt>,
        }

        /// A group of 2–6 members, complete or not, whose sum decrypts to honest counts or to
        /// counts with some elements replaced by dishonest ones.
        fn group_spec(width: usize, max_count: i32) -> impl Strategy<Value = Spec> {
            (2u32..7).prop_flat_map(move |size| {
                let bound = i64::from(size) * i64::from(max_count);
                (
                    prop_oneof![4 => Just(size), 1 => 0..size],
                    prop::collection::vec(0..=bound, width),
                    prop::collection::vec(
                        prop::option::weighted(0.2, dishonest_value(bound)),
                        width,
                    ),
                )
                    .prop_map(move |(encrypted, honest, dishonest)| Spec {
                        size,
                        encrypted,
                        values: honest
                            .into_iter()
                            .zip(dishonest)
                            .map(|(h, d)| d.unwrap_or_else(|| BigInt::from(h)))
                            .collect(),
                    })
            })
        }

        fn scenario() -> impl Strategy<Value = (i32, i32, Vec<Spec>)> {
            (
                prop_oneof![Just(1), Just(10), Just(10_000), Just(i32::MAX)],
                1usize..5,
                0i32..12,
            )
                .prop_flat_map(|(max_count, width, threshold)| {
                    (
                        Just(max_count),
                        Just(threshold),
                        prop::collection::vec(group_spec(width, max_count), 0..12),
                    )
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            /// Whatever the members send, a day's values are exactly the sum of the groups
            /// whose every count lies in [0, members × maxCount], computed without bound; the
            /// others are rejected with their members counted; nothing is clipped.
            #[test]
            fn a_day_is_the_exact_sum_of_its_accepted_groups(
                (max_count, threshold, specs) in scenario()
            ) {
                let mut c = campaign(false);
                c.max_count = max_count;
                c.min_decrypted_count = threshold;
                let groups: Vec<Group> = specs
                    .iter()
                    .enumerate()
                    .map(|(i, spec)| Group {
                        campaign_name: "c".into(),
                        day: 1,
                        group: i as u32,
                        public_keys: (0..spec.size).map(|k| format!("{k:02x}")).collect(),
                        queries_count: spec.values.len() as u32 - 1,
                        submitted: spec.encrypted,
                        encrypted: spec.encrypted,
                        sum: spec.values.iter().map(crypto::reduce).collect(),
                    })
                    .collect();
                let mut expected: Vec<BigInt> = Vec::new();
                let (mut decrypted, mut rejected, mut rejected_groups) = (0u64, 0u64, vec![]);
                for (i, spec) in specs.iter().enumerate() {
                    if spec.encrypted != spec.size {
                        continue;
                    }
                    let bound = BigInt::from(spec.size) * max_count;
                    if spec.values.iter().all(|v| *v >= BigInt::from(0) && *v <= bound) {
                        expected.resize(spec.values.len(), BigInt::from(0));
                        for (e, v) in expected.iter_mut().zip(&spec.values) {
                            *e += v;
                        }
                        decrypted += u64::from(spec.size);
                    } else {
                        rejected += u64::from(spec.size);
                        rejected_groups.push(i as u32);
                    }
                }
                let out = aggregate(&c, 1, &groups, None);
                let fits = expected.iter().all(|e| e.to_i64().is_some());
                match out {
                    Ok(out) => {
                        prop_assert!(fits);
                        let a = out.aggregation;
                        prop_assert_eq!(a.stats.decrypted_count, decrypted);
                        prop_assert_eq!(a.stats.rejected_count, rejected);
                        prop_assert_eq!(out.rejected_groups, rejected_groups);
                        let withheld = decrypted < threshold as u64;
                        prop_assert_eq!(a.withheld, withheld);
                        let exact: Vec<i64> = if withheld {
                            vec![]
                        } else {
                            expected.iter().filter_map(|e| e.to_i64()).collect()
                        };
                        prop_assert_eq!(a.decrypted_values, exact);
                    }
                    Err(SumOverflow) => prop_assert!(!fits),
                }
            }
        }
    }
}
