//! `/admin/clients`: registrations and active clients per day, and the top countries and
//! extension versions. Counts only: no client name, no key.

use std::fmt::Write as _;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::adapters::admin::html::{document, esc, number, ser_time, thead, Nav};
use crate::adapters::admin::svg::{bar_chart, line_chart, Line};
use crate::domain::service::ServiceError;

/// Days shown.
pub const DAYS: u32 = 90;
/// Countries and versions listed; the rest are summed as "other".
pub const TOP: usize = 20;

/// One local day of the reference zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClientDay {
    pub date: NaiveDate,
    /// Clients created that day (still registered).
    pub registrations: u64,
    /// Distinct clients with activity that day.
    pub active: u64,
}

/// What the storage tells about clients, in counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFigures {
    pub registered: u64,
    /// Oldest first, one per date of the range asked (zeros included).
    pub days: Vec<ClientDay>,
    /// Clients by the country of their latest activity (`None`: unknown), any order.
    pub countries: Vec<(Option<String>, u64)>,
    /// Clients by the extension version of their latest activity, any order.
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
    pub days: Vec<ClientDay>,
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
    let mut days = figures.days.clone();
    days.sort_by_key(|d| d.date);
    ClientsPage {
        now,
        time_zone: time_zone.to_string(),
        registered: figures.registered,
        days,
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
        "<p>{} clients registered. Days in {}.</p><section><h2>Per day</h2>",
        number(model.registered as f64),
        esc(&model.time_zone)
    );
    if model.days.is_empty() {
        out.push_str("<p class=\"empty\">No day yet.</p>");
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
    counts_section(&mut out, "Countries (latest activity)", &model.countries);
    counts_section(
        &mut out,
        "Extension versions (latest activity)",
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
            countries: vec![(Some("GB".into()), 1000), (None, 234)],
            extension_versions: vec![(Some("<b>1.2</b>".into()), 1234)],
        };
        let now = DateTime::from_timestamp(1_526_000_000, 0).unwrap();
        let model = clients_page(&figures, "Europe/London", now);
        assert_eq!(model.days[0].date, start);
        let html = render(&model, &Nav::ALL);
        assert_eq!(html.matches("<circle class=\"pt\"").count(), 6);
        assert_eq!(html.matches("<rect class=\"bar").count(), 3);
        assert!(html.contains("1,234 clients registered"));
        assert!(!html.contains("<b>") && html.contains("&lt;b&gt;1.2&lt;/b&gt;"));
        let json = serde_json::to_value(&model).unwrap();
        assert_eq!(
            json["countries"][1],
            serde_json::json!({"name": "unknown", "clients": 234})
        );
        assert_eq!(json["days"][2]["date"], "2018-05-03");
    }
}
