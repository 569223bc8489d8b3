//! Export rows of aggregations, as analysts download them: one `_total` row per day, then one
//! row per query counted at least once; a day whose values are withheld has its `_total` row
//! alone, without a count.

use chrono::NaiveDate;

use super::campaign::Campaign;
use super::sketch::Aggregation;
use super::time::Calendar;

pub const TOTAL_LABEL: &str = "_total";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub date: NaiveDate,
    pub query: String,
    /// `None`: the day's values are withheld (below the campaign's release threshold).
    pub count: Option<i64>,
}

/// Rows for `aggregations` (in the order given). The date is the aggregation's day as a local
/// calendar date; a campaign without a start yields no rows (it has no days).
pub fn export_rows(
    campaign: &Campaign,
    aggregations: &[Aggregation],
    cal: &Calendar,
) -> Vec<ExportRow> {
    let Some(start) = campaign.start_time else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for agg in aggregations {
        let date = cal.local_date(cal.day_start(start, agg.day));
        if agg.withheld {
            rows.push(ExportRow {
                date,
                query: TOTAL_LABEL.to_string(),
                count: None,
            });
            continue;
        }
        rows.push(ExportRow {
            date,
            query: TOTAL_LABEL.to_string(),
            count: Some(agg.decrypted_values.first().copied().unwrap_or(0)),
        });
        let counts = agg.decrypted_values.iter().skip(1);
        for (query, &count) in campaign.vocabulary.queries.iter().zip(counts) {
            if count > 0 {
                rows.push(ExportRow {
                    date,
                    query: query.label(),
                    count: Some(count),
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::{Query, Vocabulary};
    use crate::domain::sketch::Stats;
    use chrono::{DateTime, Utc};

    #[test]
    fn export_has_total_then_positive_queries_with_local_dates() {
        let start = DateTime::parse_from_rfc3339("2018-05-10T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let campaign = Campaign {
            name: "c".into(),
            create_time: start,
            display_name: "c".into(),
            email: None,
            notes: None,
            vocabulary: Vocabulary {
                queries: vec![
                    Query::Exact("flu".into()),
                    Query::Terms(vec!["flu".into(), "fever".into()]),
                    Query::Exact("cold".into()),
                ],
            },
            start_time: Some(start),
            end_time: None,
            delay: 0,
            grace_delay: 0,
            group_size: 2,
            sampling_rate: None,
            collect_encrypted: true,
            collect_raw: false,
            max_count: 10_000,
            min_decrypted_count: 0,
        };
        let agg = |day, values: Vec<i64>| Aggregation {
            campaign_name: "c".into(),
            day,
            stats: Stats::default(),
            decrypted_values: values,
            raw_values: vec![],
            withheld: false,
        };
        let cal = Calendar::new(chrono_tz::Europe::London);
        // 23:30 UTC on the 10th is 00:30 BST on the 11th: day 0 is 2018-05-11.
        let withheld = Aggregation {
            withheld: true,
            ..agg(2, vec![])
        };
        let rows = export_rows(
            &campaign,
            &[withheld, agg(1, vec![6, 1, 5, 0]), agg(0, vec![])],
            &cal,
        );
        let d = |day| NaiveDate::from_ymd_opt(2018, 5, day).unwrap();
        assert_eq!(
            rows,
            vec![
                ExportRow {
                    date: d(13),
                    query: "_total".into(),
                    count: None
                },
                ExportRow {
                    date: d(12),
                    query: "_total".into(),
                    count: Some(6)
                },
                ExportRow {
                    date: d(12),
                    query: "flu".into(),
                    count: Some(1)
                },
                ExportRow {
                    date: d(12),
                    query: "flu, fever".into(),
                    count: Some(5)
                },
                ExportRow {
                    date: d(11),
                    query: "_total".into(),
                    count: Some(0)
                },
            ]
        );
    }
}
