//! Cutting a day's participants into balanced groups, and the strategies choosing who takes
//! part. A group of one is never formed: its member would have nobody to blind with.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use super::time::Day;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupStrategy {
    /// Shuffle everyone, then cut.
    #[default]
    Naive,
    /// Keep only clients active often enough to come back within the campaign's delay.
    Frequency,
}

impl FromStr for GroupStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "naive" => Ok(GroupStrategy::Naive),
            "frequency" => Ok(GroupStrategy::Frequency),
            other => Err(format!(
                "unknown group strategy {other:?} (expected naive or frequency)"
            )),
        }
    }
}

impl GroupStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStrategy::Naive => "naive",
            GroupStrategy::Frequency => "frequency",
        }
    }
}

/// Sizes of balanced groups for `n` participants: `ceil(n / group_size)` groups differing by at
/// most one, fewer while the smallest would hold fewer than 2. Empty when `n < 2`.
pub fn balanced_sizes(n: usize, group_size: usize) -> Vec<usize> {
    let group_size = group_size.max(2);
    let mut k = n.div_ceil(group_size);
    while k > 0 && n / k < 2 {
        k -= 1;
    }
    if k == 0 {
        return Vec::new();
    }
    let (base, extra) = (n / k, n % k);
    (0..k).map(|i| base + usize::from(i < extra)).collect()
}

/// Cuts already-shuffled participants into balanced groups, in order.
pub fn cut<T: Clone>(participants: &[T], group_size: usize) -> Vec<Vec<T>> {
    let mut groups = Vec::new();
    let mut rest = participants;
    for size in balanced_sizes(participants.len(), group_size) {
        let (group, tail) = rest.split_at(size);
        groups.push(group.to_vec());
        rest = tail;
    }
    groups
}

/// The days of history the frequency strategy looks at before day `d`: min(d − 1, 30).
pub fn frequency_window(d: Day) -> Day {
    (d - 1).clamp(0, 30)
}

/// The frequency strategy's filter. `active_days` holds, per client, the distinct campaign days
/// in the window `[d − window, d)` on which it was active.
///
/// A client is kept when its share of active days exceeds 1 / delay. Edge cases:
/// - no history (d ≤ 1, window 0): everyone is kept, there is nothing to judge by;
/// - delay 0 or 1: a sketch must be answered by the next day, and no share can exceed 1, so
///   only clients active on every day of the window are kept.
pub fn frequency_filter(
    participants: &[String],
    active_days: &HashMap<String, HashSet<Day>>,
    window: Day,
    delay: i32,
) -> Vec<String> {
    if window <= 0 {
        return participants.to_vec();
    }
    participants
        .iter()
        .filter(|client| {
            let days = active_days.get(*client).map_or(0, |d| d.len()) as f64;
            let share = days / window as f64;
            if delay <= 1 {
                share >= 1.0
            } else {
                share > 1.0 / delay as f64
            }
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_sizes_five_at_two_gives_three_and_two() {
        assert_eq!(balanced_sizes(5, 2), vec![3, 2]);
    }

    #[test]
    fn balanced_sizes_ten_at_four_gives_four_three_three() {
        assert_eq!(balanced_sizes(10, 4), vec![4, 3, 3]);
    }

    #[test]
    fn balanced_sizes_never_forms_a_group_of_one() {
        assert_eq!(balanced_sizes(0, 10), Vec::<usize>::new());
        assert_eq!(balanced_sizes(1, 2), Vec::<usize>::new());
        assert_eq!(balanced_sizes(1, 10), Vec::<usize>::new());
        assert_eq!(balanced_sizes(2, 10), vec![2]);
        assert_eq!(balanced_sizes(3, 2), vec![3]);
        assert_eq!(balanced_sizes(101, 50), vec![34, 34, 33]);
        for n in 0..200 {
            for gs in 2..12 {
                let sizes = balanced_sizes(n, gs);
                assert_eq!(sizes.iter().sum::<usize>(), if n < 2 { 0 } else { n });
                assert!(sizes.iter().all(|&s| s >= 2), "{n} {gs} {sizes:?}");
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                if let (Some(min), Some(max)) = (min, max) {
                    assert!(max - min <= 1);
                }
            }
        }
    }

    #[test]
    fn cut_keeps_order_and_sizes() {
        let people: Vec<u32> = (0..10).collect();
        assert_eq!(
            cut(&people, 4),
            vec![vec![0, 1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]]
        );
    }

    fn history(entries: &[(&str, &[Day])]) -> HashMap<String, HashSet<Day>> {
        entries
            .iter()
            .map(|(c, days)| (c.to_string(), days.iter().copied().collect()))
            .collect()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn frequency_window_is_min_of_d_minus_one_and_thirty() {
        assert_eq!(frequency_window(0), 0);
        assert_eq!(frequency_window(1), 0);
        assert_eq!(frequency_window(2), 1);
        assert_eq!(frequency_window(31), 30);
        assert_eq!(frequency_window(100), 30);
    }

    #[test]
    fn frequency_without_history_keeps_everyone() {
        let people = names(&["a", "b"]);
        assert_eq!(frequency_filter(&people, &HashMap::new(), 0, 3), people);
    }

    #[test]
    fn frequency_keeps_shares_above_one_over_delay() {
        let people = names(&["a", "b", "c", "d"]);
        // Window of 4 days, delay 2: share must exceed 0.5.
        let h = history(&[("a", &[1, 2, 3, 4]), ("b", &[1, 2, 3]), ("c", &[1, 2])]);
        assert_eq!(frequency_filter(&people, &h, 4, 2), names(&["a", "b"]));
        // delay 4: share must exceed 0.25.
        assert_eq!(frequency_filter(&people, &h, 4, 4), names(&["a", "b", "c"]));
    }

    #[test]
    fn frequency_with_delay_zero_or_one_keeps_only_everyday_clients() {
        let people = names(&["a", "b"]);
        let h = history(&[("a", &[1, 2, 3]), ("b", &[1, 3])]);
        assert_eq!(frequency_filter(&people, &h, 3, 0), names(&["a"]));
        assert_eq!(frequency_filter(&people, &h, 3, 1), names(&["a"]));
    }
}
