//! `/admin/clients`: registrations and active clients per day, and the top countries and
//! extension versions of the clients active on the last day counted. The days are counted each
//! night by collect-garbage (the activity they are counted from is kept 61 days only, and
//! distinct clients of 90 days could not be counted while a page waits). Counts only: no
//! client name, no key.

use std::fmt::Write as _;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::adapters::admin::html::{document, esc, number, ser_time, thead, Nav};
use crate::adapters::admin::svg::{bar_chart, line_chart, Line};
use crate::domain::client::ClientDay;
use crate::domain::service::clients::ClientService;
use crate::domain::service::ServiceError;

/// Days shown.
pub const DAYS: u32 = 90;
/// Countries and versions listed; the rest are summed as "other".
pub const TOP: usize = 20;

/// What the storage tells about clients, in counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFigures {
    pub registered: u64,
    /// The days counted in the range asked, in any order (days never counted are left out).
    pub days: Vec<ClientDay>,
    /// The day the countries and versions are of (the last counted), if any.
    pub breakdown_date: Option<NaiveDate>,
    /// Clients active that day by the country of their last activity (`None`: unknown), any
    /// order.
    pub countries: Vec<(Option<String>, u64)>,
    /// The same by extension version.
    pub extension_versions: Vec<(Option<String>, u64)>,
}

/// Where the clients page reads from.
#[async_trait]
pub trait ClientSource: Send + Sync + 'static {
    /// Figures for the local dates `[from, to]` of the reference zone.
    async fn client_figures(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<ClientFigures, ServiceError>;
}

/// The service's counts: the days counted each night and the registered clients now.
#[async_trait]
impl ClientSource for ClientService {
    async fn client_figures(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<ClientFigures, ServiceError> {
        let registered = self.count().await?;
        let (days, breakdown) = self.days(from, to).await?;
        let breakdown_date = breakdown.as_ref().and(days.last().map(|d| d.date));
        let breakdown = breakdown.unwrap_or_default();
        Ok(ClientFigures {
            registered,
            days,
            breakdown_date,
            countries: breakdown.countries.into_iter().collect(),
            extension_versions: breakdown.extension_versions.into_iter().collect(),
        })
    }
}

/// One local day of the reference zone, as counted the night after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ClientDay)]
pub struct DayView {
    pub date: NaiveDate,
    /// Clients created that day (still registered when counted).
    pub registrations: u64,
    /// Distinct clients with activity that day.
    pub active: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ClientCount)]
pub struct Count {
    pub name: String,
    pub clients: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientsPage {
    #[serde(serialize_with = "ser_time")]
    pub now: DateTime<Utc>,
    pub time_zone: String,
    pub registered: u64,
    /// How many days the page spans at most: the last counted.
    pub days_shown: u32,
    /// Oldest first.
    pub days: Vec<DayView>,
    /// The day `countries` and `extensionVersions` are of: the last counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdown_date: Option<NaiveDate>,
    /// The `TOP` largest, then `other` when more.
    pub countries: Vec<Count>,
    pub extension_versions: Vec<Count>,
}

/// The `TOP` largest counts, ties by name, then the rest summed as `other`.
fn top(counts: &[(Option<String>, u64)]) -> Vec<Count> {
    let mut all: Vec<Count> = counts
        .iter()
        .map(|(name, n)| Count {
            name: name.clone().unwrap_or_else(|| "unknown".into()),
            clients: *n,
        })
        .collect();
    all.sort_by(|a, b| b.clients.cmp(&a.clients).then_with(|| a.name.cmp(&b.name)));
    if all.len() > TOP {
        let other: u64 = all[TOP..].iter().map(|c| c.clients).sum();
        all.truncate(TOP);
        all.push(Count {
            name: "other".into(),
            clients: other,
        });
    }
    all
}

pub fn clients_page(figures: &ClientFigures, time_zone: &str, now: DateTime<Utc>) -> ClientsPage {
    let mut days: Vec<DayView> = figures
        .days
        .iter()
        .map(|d| DayView {
            date: d.date,
            registrations: d.registrations,
            active: d.active,
        })
        .collect();
    days.sort_by_key(|d| d.date);
    let shown = DAYS as usize;
    if days.len() > shown {
        days.drain(..days.len() - shown);
    }
    ClientsPage {
        now,
        time_zone: time_zone.to_string(),
        registered: figures.registered,
        days_shown: DAYS,
        days,
        breakdown_date: figures.breakdown_date,
        countries: top(&figures.countries),
        extension_versions: top(&figures.extension_versions),
    }
}

fn counts_section(out: &mut String, title: &str, counts: &[Count]) {
    let _ = write!(out, "<section><h2>{}</h2>", esc(title));
    if counts.is_empty() {
        out.push_str("<p class=\"empty\">None known.</p></section>");
        return;
    }
    let names: Vec<String> = counts.iter().map(|c| c.name.clone()).collect();
    let values: Vec<f64> = counts.iter().map(|c| c.clients as f64).collect();
    out.push_str(&bar_chart(
        title,
        &names,
        &[Line {
            name: "clients",
            values: &values,
        }],
    ));
    out.push_str("</section>");
}

pub fn render(model: &ClientsPage, pages: &[Nav]) -> String {
    let mut out = String::with_capacity(16 * 1024 + model.days.len() * 200);
    let _ = write!(
        out,
        "<p>{} clients registered now. Days in {}, counted each night by collect-garbage: \
         {} of the last {} counted.</p><section><h2>Per day</h2>",
        number(model.registered as f64),
        esc(&model.time_zone),
        model.days.len(),
        model.days_shown
    );
    if model.days.is_empty() {
        out.push_str("<p class=\"empty\">No day counted yet.</p>");
    } else {
        let labels: Vec<String> = model.days.iter().map(|d| d.date.to_string()).collect();
        let registrations: Vec<f64> = model.days.iter().map(|d| d.registrations as f64).collect();
        let active: Vec<f64> = model.days.iter().map(|d| d.active as f64).collect();
        out.push_str(&line_chart(
            "Clients per day",
            &labels,
            &[
                Line {
                    name: "active",
                    values: &active,
                },
                Line {
                    name: "registrations",
                    values: &registrations,
                },
            ],
        ));
        out.push_str("<details><summary>Table</summary><table class=\"list\">");
        thead(&mut out, &["Date", "Registrations", "Active"]);
        out.push_str("<tbody>");
        for d in model.days.iter().rev() {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                d.date,
                number(d.registrations as f64),
                number(d.active as f64)
            );
        }
        out.push_str("</tbody></table></details>");
    }
    out.push_str("</section>");
    let of = model
        .breakdown_date
        .map_or_else(String::new, |d| format!(", active on {d}"));
    counts_section(&mut out, &format!("Countries{of}"), &model.countries);
    counts_section(
        &mut out,
        &format!("Extension versions{of}"),
        &model.extension_versions,
    );
    document("Clients", Nav::Clients, pages, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_twenty_then_other_and_unknown_named() {
        let mut countries: Vec<(Option<String>, u64)> = (0..25)
            .map(|i| (Some(format!("C{i:02}")), 100 - i as u64))
            .collect();
        countries.push((None, 50));
        let top = top(&countries);
        assert_eq!(top.len(), 21);
        assert_eq!(top[0].name, "C00");
        assert_eq!(top[19].name, "C19");
        assert_eq!(top[20].name, "other");
        assert_eq!(top[20].clients, 76 + 77 + 78 + 79 + 80 + 50);
        let few = super::top(&[(None, 3), (Some("GB".into()), 3)]);
        assert_eq!(
            few,
            vec![
                Count {
                    name: "GB".into(),
                    clients: 3
                },
                Count {
                    name: "unknown".into(),
                    clients: 3
                }
            ]
        );
    }

    #[test]
    fn the_page_charts_days_and_escapes_versions() {
        let start = NaiveDate::from_ymd_opt(2018, 5, 1).unwrap();
        let figures = ClientFigures {
            registered: 1234,
            days: (0..3)
                .map(|i| ClientDay {
                    date: start + chrono::Duration::days(2 - i),
                    registrations: i as u64,
                    active: 10 * i as u64,
                })
                .collect(),
            breakdown_date: Some(start + chrono::Duration::days(2)),
            countries: vec![(Some("GB".into()), 1000), (None, 234)],
            extension_versions: vec![(Some("<b>1.2</b>".into()), 1234)],
        };
        let now = DateTime::from_timestamp(1_526_000_000, 0).unwrap();
        let model = clients_page(&figures, "Europe/London", now);
        assert_eq!(model.days[0].date, start);
        let html = render(&model, &Nav::ALL);
        assert_eq!(html.matches("<circle class=\"pt\"").count(), 6);
        assert_eq!(html.matches("<rect class=\"bar").count(), 3);
        assert!(html.contains("1,234 clients registered now"));
        assert!(html.contains("3 of the last 90 counted."));
        // The last 90 days at most, oldest left out.
        let mut many = figures.clone();
        many.days = (0..95)
            .map(|i| ClientDay {
                date: start + chrono::Duration::days(i),
                registrations: 1,
                active: 1,
            })
            .collect();
        let last_90 = clients_page(&many, "Europe/London", now);
        assert_eq!(last_90.days.len(), 90);
        assert_eq!(last_90.days[0].date, start + chrono::Duration::days(5));
        assert!(html.contains("<h2>Countries, active on 2018-05-03</h2>"));
        assert!(!html.contains("<b>") && html.contains("&lt;b&gt;1.2&lt;/b&gt;"));
        let json = serde_json::to_value(&model).unwrap();
        assert_eq!(
            json["countries"][1],
            serde_json::json!({"name": "unknown", "clients": 234})
        );
        assert_eq!(json["days"][2]["date"], "2018-05-03");
        assert_eq!(json["breakdownDate"], "2018-05-03");
        assert_eq!(json["daysShown"], 90);
    }
}
