//! `/admin/campaigns` and `/admin/campaigns/{name}`: each campaign's state and its figures per
//! day (clients active, sketches submitted, decrypted, rejected) as a chart and a table. Counts only: no
//! decrypted value, nothing about any one person (the owner's e-mail and notes stay out too).

use std::fmt::Write as _;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::adapters::admin::html::{
    document, esc, local_time, number, path_segment, ser_opt_time, ser_time, thead, Nav,
};
use crate::adapters::admin::svg::{line_chart, sparkline, Line};
use crate::domain::campaign::Campaign;
use crate::domain::service::campaigns::CampaignService;
use crate::domain::service::ServiceError;
use crate::domain::sketch::Stats;
use crate::domain::time::{Calendar, Day};

/// A campaign with the figures of its aggregated days.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignFigures {
    pub campaign: Campaign,
    /// In any order.
    pub days: Vec<(Day, Stats)>,
}

/// Where the campaign pages read from.
#[async_trait]
pub trait CampaignSource: Send + Sync + 'static {
    /// Every campaign, newest first, with its figures.
    async fn campaigns(&self) -> Result<Vec<CampaignFigures>, ServiceError>;
    /// One campaign with its figures; `NotFound` when there is none of that name.
    async fn campaign(&self, name: &str) -> Result<CampaignFigures, ServiceError>;
}

/// The service's own results: the stats of each aggregation (its values are not read further).
#[async_trait]
impl CampaignSource for CampaignService {
    async fn campaigns(&self) -> Result<Vec<CampaignFigures>, ServiceError> {
        let mut out = Vec::new();
        for campaign in self.list(None).await? {
            match self.campaign(&campaign.campaign.name).await {
                Ok(figures) => out.push(figures),
                // Deleted since listed.
                Err(ServiceError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn campaign(&self, name: &str) -> Result<CampaignFigures, ServiceError> {
        let (campaign, results) = self.results(name).await?;
        Ok(CampaignFigures {
            campaign,
            days: results.iter().map(|a| (a.day, a.stats)).collect(),
        })
    }
}

/// At most this many queries of a vocabulary are listed on its page.
pub const VOCABULARY_SHOWN: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = CampaignState)]
pub enum State {
    /// No start time yet.
    Draft,
    /// Starts in the future.
    Scheduled,
    Active,
    Completed,
}

impl State {
    pub fn of(c: &Campaign, now: DateTime<Utc>) -> State {
        if c.completed(now) {
            State::Completed
        } else if c.started(now) {
            State::Active
        } else if c.start_time.is_some() {
            State::Scheduled
        } else {
            State::Draft
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Scheduled => "scheduled",
            State::Active => "active",
            State::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CampaignDay)]
pub struct DayFigures {
    #[schema(value_type = i64)]
    pub day: Day,
    /// The day's date in the reference zone.
    pub date: NaiveDate,
    pub active: u64,
    pub submitted: u64,
    pub decrypted: u64,
    /// Members of the groups rejected as implausible.
    pub rejected: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignSummary {
    pub name: String,
    pub display_name: String,
    pub state: State,
    #[serde(serialize_with = "ser_opt_time")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_time")]
    pub end_time: Option<DateTime<Utc>>,
    pub queries: usize,
    pub days_aggregated: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<DayFigures>,
    /// Sketches submitted per aggregated day, oldest first.
    pub submitted_per_day: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignsPage {
    #[serde(serialize_with = "ser_time")]
    pub now: DateTime<Utc>,
    pub time_zone: String,
    pub campaigns: Vec<CampaignSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignPage {
    #[serde(serialize_with = "ser_time")]
    pub now: DateTime<Utc>,
    pub time_zone: String,
    pub name: String,
    pub display_name: String,
    pub state: State,
    #[serde(serialize_with = "ser_time")]
    pub create_time: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_time")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_time")]
    pub end_time: Option<DateTime<Utc>>,
    pub delay: i32,
    pub grace_delay: i32,
    pub group_size: i32,
    pub sampling_rate: Option<f64>,
    pub collect_encrypted: bool,
    pub collect_raw: bool,
    pub max_count: i32,
    pub min_decrypted_count: i32,
    pub queries: usize,
    /// The first `VOCABULARY_SHOWN` queries' labels.
    pub vocabulary: Vec<String>,
    /// Oldest first.
    pub days: Vec<DayFigures>,
}

/// The figures of each day, oldest first, dated in the reference zone.
fn days(figures: &CampaignFigures, calendar: &Calendar) -> Vec<DayFigures> {
    let origin = figures
        .campaign
        .start_time
        .map(|start| calendar.local_date(start));
    let mut days: Vec<DayFigures> = figures
        .days
        .iter()
        .map(|(day, stats)| DayFigures {
            day: *day,
            date: origin
                .and_then(|o| o.checked_add_signed(chrono::Duration::days(*day)))
                .unwrap_or_default(),
            active: stats.active_count,
            submitted: stats.submitted_count,
            decrypted: stats.decrypted_count,
            rejected: stats.rejected_count,
        })
        .collect();
    days.sort_by_key(|d| d.day);
    days
}

pub fn campaigns_page(
    all: &[CampaignFigures],
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> CampaignsPage {
    CampaignsPage {
        now,
        time_zone: calendar.time_zone().name().to_string(),
        campaigns: all
            .iter()
            .map(|f| {
                let days = days(f, calendar);
                let c = &f.campaign;
                CampaignSummary {
                    name: c.name.clone(),
                    display_name: c.display_name.clone(),
                    state: State::of(c, now),
                    start_time: c.start_time,
                    end_time: c.end_time,
                    queries: c.vocabulary.queries.len(),
                    days_aggregated: days.len(),
                    submitted_per_day: days.iter().map(|d| d.submitted).collect(),
                    latest: days.last().cloned(),
                }
            })
            .collect(),
    }
}

pub fn campaign_page(
    figures: &CampaignFigures,
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> CampaignPage {
    let c = &figures.campaign;
    CampaignPage {
        now,
        time_zone: calendar.time_zone().name().to_string(),
        name: c.name.clone(),
        display_name: c.display_name.clone(),
        state: State::of(c, now),
        create_time: c.create_time,
        start_time: c.start_time,
        end_time: c.end_time,
        delay: c.delay,
        grace_delay: c.grace_delay,
        group_size: c.group_size,
        sampling_rate: c.sampling_rate,
        collect_encrypted: c.collect_encrypted,
        collect_raw: c.collect_raw,
        max_count: c.max_count,
        min_decrypted_count: c.min_decrypted_count,
        queries: c.vocabulary.queries.len(),
        vocabulary: c
            .vocabulary
            .queries
            .iter()
            .take(VOCABULARY_SHOWN)
            .map(|q| q.label())
            .collect(),
        days: days(figures, calendar),
    }
}

fn zone(name: &str) -> chrono_tz::Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

fn when(t: &Option<DateTime<Utc>>, zone: chrono_tz::Tz) -> String {
    t.map_or_else(|| "—".to_string(), |t| local_time(&t, zone))
}

pub fn render_list(model: &CampaignsPage, pages: &[Nav]) -> String {
    let zone = zone(&model.time_zone);
    let mut out = String::with_capacity(2048 + model.campaigns.len() * 2048);
    if model.campaigns.is_empty() {
        out.push_str("<p class=\"empty\">No campaign.</p>");
        return document("Campaigns", Nav::Campaigns, pages, &out);
    }
    let _ = write!(
        out,
        "<p>{} campaigns. Times in {}.</p><table class=\"list\">",
        model.campaigns.len(),
        esc(&model.time_zone)
    );
    thead(
        &mut out,
        &[
            "Campaign",
            "State",
            "Start",
            "End",
            "Queries",
            "Days aggregated",
            "Latest day: active / submitted / decrypted / rejected",
            "Submitted per day",
        ],
    );
    out.push_str("<tbody>");
    for c in &model.campaigns {
        let latest = c.latest.as_ref().map_or_else(
            || "—".to_string(),
            |d| {
                format!(
                    "{}: {} / {} / {} / {}",
                    d.date,
                    number(d.active as f64),
                    number(d.submitted as f64),
                    number(d.decrypted as f64),
                    number(d.rejected as f64)
                )
            },
        );
        let submitted: Vec<f64> = c.submitted_per_day.iter().map(|n| *n as f64).collect();
        let _ = write!(
            out,
            "<tr><td><a href=\"/admin/campaigns/{}\">{}</a><br><code class=\"small\">{}</code></td>\
             <td class=\"state {state}\">{state}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            path_segment(&c.name),
            esc(&c.display_name),
            esc(&c.name),
            esc(&when(&c.start_time, zone)),
            esc(&when(&c.end_time, zone)),
            number(c.queries as f64),
            number(c.days_aggregated as f64),
            esc(&latest),
            sparkline(
                &format!("{}: sketches submitted per day", c.display_name),
                &submitted
            ),
            state = c.state.as_str(),
        );
    }
    out.push_str("</tbody></table>");
    document("Campaigns", Nav::Campaigns, pages, &out)
}

pub fn render_one(model: &CampaignPage, pages: &[Nav]) -> String {
    let zone = zone(&model.time_zone);
    let mut out = String::with_capacity(8192 + model.days.len() * 600);
    let _ = write!(
        out,
        "<p><a href=\"/admin/campaigns\">All campaigns</a></p>\
         <section><h2>{}</h2><table class=\"facts\"><tbody>",
        esc(&model.display_name)
    );
    let facts: [(&str, String); 13] = [
        ("Name", model.name.clone()),
        ("State", model.state.as_str().to_string()),
        ("Created", local_time(&model.create_time, zone)),
        ("Start", when(&model.start_time, zone)),
        ("End", when(&model.end_time, zone)),
        (
            "Delay / grace delay",
            format!("{} / {} days", model.delay, model.grace_delay),
        ),
        ("Group size", model.group_size.to_string()),
        (
            "Sampling rate",
            model
                .sampling_rate
                .map_or_else(|| "all".to_string(), |r| r.to_string()),
        ),
        ("Collects encrypted", model.collect_encrypted.to_string()),
        ("Collects raw", model.collect_raw.to_string()),
        ("Max count per member", number(f64::from(model.max_count))),
        (
            "Release threshold (decrypted members)",
            if model.min_decrypted_count == 0 {
                "off".to_string()
            } else {
                number(f64::from(model.min_decrypted_count))
            },
        ),
        ("Queries", number(model.queries as f64)),
    ];
    for (name, value) in &facts {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            esc(name),
            esc(value)
        );
    }
    out.push_str("</tbody></table></section><section><h2>Per day</h2>");
    if model.days.is_empty() {
        out.push_str("<p class=\"empty\">No day aggregated yet.</p>");
    } else {
        let labels: Vec<String> = model.days.iter().map(|d| d.date.to_string()).collect();
        let series = |f: fn(&DayFigures) -> u64| -> Vec<f64> {
            model.days.iter().map(|d| f(d) as f64).collect()
        };
        let (active, submitted, decrypted, rejected) = (
            series(|d| d.active),
            series(|d| d.submitted),
            series(|d| d.decrypted),
            series(|d| d.rejected),
        );
        out.push_str(&line_chart(
            &format!("{}: clients per day", model.display_name),
            &labels,
            &[
                Line {
                    name: "active",
                    values: &active,
                },
                Line {
                    name: "submitted",
                    values: &submitted,
                },
                Line {
                    name: "decrypted",
                    values: &decrypted,
                },
                Line {
                    name: "rejected",
                    values: &rejected,
                },
            ],
        ));
        out.push_str("<table class=\"list\">");
        thead(
            &mut out,
            &[
                "Day",
                "Date",
                "Active",
                "Submitted",
                "Decrypted",
                "Rejected",
            ],
        );
        out.push_str("<tbody>");
        for d in model.days.iter().rev() {
            let _ = write!(
                out,
                "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                d.day,
                d.date,
                number(d.active as f64),
                number(d.submitted as f64),
                number(d.decrypted as f64),
                number(d.rejected as f64)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section><section><h2>Vocabulary</h2><ol class=\"vocabulary\">");
    for q in &model.vocabulary {
        let _ = write!(out, "<li>{}</li>", esc(q));
    }
    out.push_str("</ol>");
    if model.queries > model.vocabulary.len() {
        let _ = write!(
            out,
            "<p class=\"hint\">and {} more.</p>",
            model.queries - model.vocabulary.len()
        );
    }
    out.push_str("</section>");
    document(
        &format!("Campaign {}", model.display_name),
        Nav::Campaigns,
        pages,
        &out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::{Query, Vocabulary};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    pub(crate) fn hostile() -> CampaignFigures {
        CampaignFigures {
            campaign: Campaign {
                name: "c-1\"><script>".into(),
                create_time: utc("2018-05-01T00:00:00Z"),
                display_name: "<script>alert(1)</script>".into(),
                email: Some("owner@example.org".into()),
                notes: Some("private notes".into()),
                vocabulary: Vocabulary {
                    queries: vec![
                        Query::Exact("<img src=x onerror=alert(2)>".into()),
                        Query::Terms(vec!["a&b".into(), "'c'".into()]),
                    ],
                },
                start_time: Some(utc("2018-05-09T22:00:00Z")),
                end_time: None,
                delay: 0,
                grace_delay: 1,
                group_size: 5,
                sampling_rate: None,
                collect_encrypted: true,
                collect_raw: false,
                max_count: 10_000,
                min_decrypted_count: 0,
            },
            days: vec![
                (
                    1,
                    Stats {
                        active_count: 10,
                        submitted_count: 9,
                        decrypted_count: 7,
                        rejected_count: 2,
                    },
                ),
                (
                    0,
                    Stats {
                        active_count: 8,
                        submitted_count: 8,
                        decrypted_count: 8,
                        rejected_count: 0,
                    },
                ),
            ],
        }
    }

    #[test]
    fn days_are_dated_in_the_reference_zone_oldest_first() {
        let cal = Calendar::new(chrono_tz::Europe::London);
        let page = campaign_page(&hostile(), &cal, utc("2018-05-12T12:00:00Z"));
        // 22:00 UTC on 9 May is 23:00 in London: day 0 is 9 May.
        assert_eq!(page.days[0].date.to_string(), "2018-05-09");
        assert_eq!(page.days[1].day, 1);
        assert_eq!(page.days[1].decrypted, 7);
        assert_eq!(page.days[1].rejected, 2);
        assert_eq!(page.state, State::Active);
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["days"][1]["date"], "2018-05-10");
        assert_eq!(json["state"], "active");
        assert_eq!(json["days"][1]["rejected"], 2);
        assert_eq!(json["maxCount"], 10_000);
        assert_eq!(json["minDecryptedCount"], 0);
        assert!(json.get("email").is_none() && json.get("notes").is_none());
    }

    #[test]
    fn hostile_names_and_queries_show_as_text() {
        let cal = Calendar::new(chrono_tz::Europe::London);
        let now = utc("2018-05-12T12:00:00Z");
        let one = render_one(&campaign_page(&hostile(), &cal, now), &Nav::ALL);
        let list = render_list(&campaigns_page(&[hostile()], &cal, now), &Nav::ALL);
        for html in [&one, &list] {
            assert!(!html.contains("<script"), "{html}");
            assert!(!html.contains("<img"));
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
            assert!(!html.contains("owner@example.org") && !html.contains("private notes"));
        }
        assert!(one.contains("<li>&lt;img src=x onerror=alert(2)&gt;</li>"));
        assert!(one.contains("<li>a&amp;b, &#39;c&#39;</li>"));
        assert!(list.contains("href=\"/admin/campaigns/c-1%22%3E%3Cscript%3E\""));
        // Four series (active, submitted, decrypted, rejected) of two days.
        assert_eq!(one.matches("<circle class=\"pt\"").count(), 8);
        assert!(one.contains("<th>Rejected</th>"));
        assert!(one.contains("<td class=\"num\">7</td><td class=\"num\">2</td></tr>"));
        assert!(list.contains("2018-05-10: 10 / 9 / 7 / 2"));
    }

    #[test]
    fn states_follow_the_clock() {
        let mut c = hostile().campaign;
        let now = utc("2018-05-12T12:00:00Z");
        assert_eq!(State::of(&c, now), State::Active);
        c.end_time = Some(utc("2018-05-12T00:00:00Z"));
        assert_eq!(State::of(&c, now), State::Completed);
        c.start_time = Some(utc("2018-06-01T00:00:00Z"));
        c.end_time = None;
        assert_eq!(State::of(&c, now), State::Scheduled);
        c.start_time = None;
        assert_eq!(State::of(&c, now), State::Draft);
    }
}
