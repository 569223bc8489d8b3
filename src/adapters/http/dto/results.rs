//! A campaign's results, one aggregation per day, and the rows of its export.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::export::ExportRow;
use crate::domain::sketch::Aggregation;
use crate::domain::time::Day;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AggregationStats)]
pub struct StatsOut {
    pub active_count: u64,
    pub submitted_count: u64,
    pub decrypted_count: u64,
    pub rejected_count: u64,
}

/// A campaign's result for one day.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Aggregation)]
pub struct AggregationOut<'a> {
    pub name: String,
    pub campaign_name: &'a str,
    #[schema(value_type = i64)]
    pub day: Day,
    pub stats: StatsOut,
    pub decrypted_values: &'a [i64],
    pub raw_values: &'a [i64],
    pub withheld: bool,
}

impl<'a> AggregationOut<'a> {
    /// With its values, or with both value lists emptied (the list view).
    pub fn new(a: &'a Aggregation, with_values: bool) -> Self {
        AggregationOut {
            name: a.name(),
            campaign_name: &a.campaign_name,
            day: a.day,
            stats: StatsOut {
                active_count: a.stats.active_count,
                submitted_count: a.stats.submitted_count,
                decrypted_count: a.stats.decrypted_count,
                rejected_count: a.stats.rejected_count,
            },
            decrypted_values: if with_values {
                &a.decrypted_values
            } else {
                &[]
            },
            raw_values: if with_values { &a.raw_values } else { &[] },
            withheld: a.withheld,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ResultList<'a> {
    pub results: Vec<AggregationOut<'a>>,
}

/// `{"date", "query", "count"}`; a withheld day's row has `"withheld": true` and no count.
#[derive(Serialize, ToSchema)]
#[schema(as = ExportRow)]
pub struct ExportRowOut<'a> {
    pub date: NaiveDate,
    pub query: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub withheld: bool,
}

impl<'a> From<&'a ExportRow> for ExportRowOut<'a> {
    fn from(r: &'a ExportRow) -> Self {
        ExportRowOut {
            date: r.date,
            query: &r.query,
            count: r.count,
            withheld: r.count.is_none(),
        }
    }
}
