//! `/admin/jobs`: each job's schedule, its last runs (firing, instance, start, duration,
//! outcome, counts, error) as a chart of durations and a table, and a form to run it now as of
//! a chosen time (the admin's `POST /admin/jobs/{job}`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::overview::run_form;
use crate::adapters::admin::html::{document, esc, local_time, number, ser_time, thead, Nav};
use crate::adapters::admin::svg::{line_chart, Line};
use crate::adapters::http::dto::format_time;
use crate::domain::job::{JobRun, Outcome};
use crate::domain::service::jobs::{JobKind, JobReport, JobService};
use crate::domain::service::ServiceError;
use crate::domain::time::Calendar;

/// Runs listed per job.
pub const RUNS: usize = 100;

/// Where the jobs page reads the run history from.
#[async_trait]
pub trait JobHistory: Send + Sync + 'static {
    /// The last `limit` runs of `job`, newest start first.
    async fn job_runs(&self, job: JobKind, limit: usize) -> Result<Vec<JobRun>, ServiceError>;
}

/// The history every instance records in the job ledger.
#[async_trait]
impl JobHistory for JobService {
    async fn job_runs(&self, job: JobKind, limit: usize) -> Result<Vec<JobRun>, ServiceError> {
        self.runs(job, limit).await
    }
}

/// How a run ended, as the page names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = JobOutcome)]
pub enum OutcomeView {
    /// Done for every campaign.
    Ok,
    /// Done, but failed for some campaigns.
    Failed,
    /// Stopped at a safe point for shutdown.
    Interrupted,
    /// Could not run.
    Error,
}

impl From<Outcome> for OutcomeView {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => OutcomeView::Ok,
            Outcome::Failed => OutcomeView::Failed,
            Outcome::Interrupted => OutcomeView::Interrupted,
            Outcome::Error => OutcomeView::Error,
        }
    }
}

impl OutcomeView {
    fn as_str(self) -> &'static str {
        match self {
            OutcomeView::Ok => "ok",
            OutcomeView::Failed => "failed",
            OutcomeView::Interrupted => "interrupted",
            OutcomeView::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = JobRun)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    #[serde(serialize_with = "ser_time")]
    pub firing: DateTime<Utc>,
    pub instance: String,
    #[serde(serialize_with = "ser_time")]
    pub started: DateTime<Utc>,
    pub duration_ms: u64,
    pub outcome: OutcomeView,
    pub counts: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub job: &'static str,
    pub local_time: String,
    #[serde(serialize_with = "ser_time")]
    pub next_firing: DateTime<Utc>,
    /// Newest first.
    pub runs: Vec<RunView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobsPage {
    #[serde(serialize_with = "ser_time")]
    pub now: DateTime<Utc>,
    pub time_zone: String,
    pub jobs: Vec<JobView>,
}

/// The page from each job's runs (`runs[i]` those of `JobKind::ALL[i]`).
pub fn jobs_page(runs: Vec<Vec<JobRun>>, calendar: &Calendar, now: DateTime<Utc>) -> JobsPage {
    JobsPage {
        now,
        time_zone: calendar.time_zone().name().to_string(),
        jobs: JobKind::ALL
            .iter()
            .zip(runs.into_iter().chain(std::iter::repeat_with(Vec::new)))
            .map(|(job, mut runs)| {
                runs.sort_by_key(|r| std::cmp::Reverse(r.started));
                runs.truncate(RUNS);
                JobView {
                    job: job.name(),
                    local_time: job.local_time().format("%H:%M").to_string(),
                    next_firing: job.next_firing(calendar, now),
                    runs: runs
                        .into_iter()
                        .map(|r| RunView {
                            firing: r.firing,
                            instance: r.instance,
                            started: r.started,
                            duration_ms: r.duration_ms,
                            outcome: r.outcome.into(),
                            counts: r.counts,
                            failed: r.failed,
                            error: r.error,
                        })
                        .collect(),
                }
            })
            .collect(),
    }
}

pub fn render(model: &JobsPage, pages: &[Nav]) -> String {
    let zone: chrono_tz::Tz = model.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let runs: usize = model.jobs.iter().map(|j| j.runs.len()).sum();
    let mut out = String::with_capacity(8192 + runs * 700);
    out.push_str("<nav class=\"toc\">");
    for j in &model.jobs {
        let _ = write!(out, "<a href=\"#{0}\">{0}</a> ", esc(j.job));
    }
    out.push_str("</nav>");
    for j in &model.jobs {
        let _ = write!(
            out,
            "<section id=\"{0}\"><h2>{0}</h2><p>Fires every day at {1} ({2}); next at {3}.</p>",
            esc(j.job),
            esc(&j.local_time),
            esc(&model.time_zone),
            esc(&local_time(&j.next_firing, zone))
        );
        run_form(&mut out, j.job, &model.now);
        if j.runs.is_empty() {
            out.push_str("<p class=\"empty\">No run recorded.</p></section>");
            continue;
        }
        // Points in the order the runs started, labelled by their start: a run-now as of an
        // earlier time serves an earlier firing, and labelling by firing made the axis run
        // backwards there.
        let oldest_first: Vec<&RunView> = j.runs.iter().rev().collect();
        let labels: Vec<String> = oldest_first
            .iter()
            .map(|r| {
                r.started
                    .with_timezone(&zone)
                    .format("%m-%d %H:%M")
                    .to_string()
            })
            .collect();
        let seconds: Vec<f64> = oldest_first
            .iter()
            .map(|r| r.duration_ms as f64 / 1000.0)
            .collect();
        out.push_str(&line_chart(
            &format!("{}: duration of the last runs (s)", j.job),
            &labels,
            &[Line {
                name: "seconds",
                values: &seconds,
            }],
        ));
        out.push_str("<table class=\"list\">");
        thead(
            &mut out,
            &[
                "Firing", "Instance", "Started", "Duration", "Outcome", "Counts", "Error",
            ],
        );
        out.push_str("<tbody>");
        for r in &j.runs {
            let mut counts: Vec<String> = r
                .counts
                .iter()
                .map(|(k, v)| format!("{k} {}", number(*v as f64)))
                .collect();
            if counts.is_empty() {
                counts.push("—".into());
            }
            let mut error = r.error.clone().unwrap_or_default();
            if !r.failed.is_empty() {
                if !error.is_empty() {
                    error.push_str("; ");
                }
                let _ = write!(error, "failed for {}", r.failed.join(", "));
            }
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code class=\"small\">{}</code></td><td>{}</td>\
                 <td class=\"num\">{}</td><td class=\"state {outcome}\">{outcome}</td>\
                 <td>{}</td><td>{}</td></tr>",
                esc(&local_time(&r.firing, zone)),
                esc(&r.instance),
                esc(&local_time(&r.started, zone)),
                esc(&format!("{:.3} s", r.duration_ms as f64 / 1000.0)),
                esc(&counts.join(", ")),
                esc(&error),
                outcome = r.outcome.as_str(),
            );
        }
        out.push_str("</tbody></table></section>");
    }
    document("Jobs", Nav::Jobs, pages, &out)
}

/// The page a browser's run-now form gets back: what the job did, as of when.
pub fn render_report(
    job: JobKind,
    at: &DateTime<Utc>,
    report: &JobReport,
    pages: &[Nav],
) -> String {
    let mut out = format!(
        "<p>{} ran as of {}.</p><table class=\"facts\"><tbody>",
        esc(job.name()),
        esc(&format_time(at))
    );
    for (key, n) in &report.counts {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td></tr>",
            esc(key),
            number(*n as f64)
        );
    }
    if report.counts.is_empty() {
        out.push_str("<tr><td>nothing to do</td></tr>");
    }
    out.push_str("</tbody></table>");
    if !report.failed.is_empty() {
        let _ = write!(
            out,
            "<p class=\"bad\">Failed for {}.</p>",
            esc(&report.failed.join(", "))
        );
    }
    if report.interrupted {
        out.push_str("<p class=\"bad\">Interrupted by shutdown.</p>");
    }
    let back = if pages.contains(&Nav::Jobs) {
        Nav::Jobs
    } else {
        Nav::Overview
    };
    let _ = write!(
        out,
        "<p><a href=\"{}\">Back to {}</a></p>",
        back.path(),
        back.label()
    );
    document(&format!("Ran {}", job.name()), Nav::Jobs, pages, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn run(job: JobKind, day: u32, outcome: Outcome) -> JobRun {
        let firing = utc(&format!("2018-05-{day:02}T00:00:00Z")) + chrono::Duration::hours(1);
        JobRun {
            job: job.name().to_string(),
            firing,
            instance: "<b>host</b>".into(),
            // Late, as after a restart's catch-up: its start and its firing differ.
            started: firing + chrono::Duration::minutes(90),
            duration_ms: 1500 * day as u64,
            outcome,
            counts: BTreeMap::from([("created".to_string(), 10), ("groups".to_string(), 2)]),
            failed: if outcome == Outcome::Failed {
                vec!["c-<1>".into()]
            } else {
                Vec::new()
            },
            error: None,
        }
    }

    #[test]
    fn each_job_lists_its_runs_newest_first_with_a_chart_of_durations() {
        let cal = Calendar::new(chrono_tz::Europe::London);
        let now = utc("2018-05-12T12:00:00Z");
        let create = vec![
            run(JobKind::CreateSketches, 10, Outcome::Ok),
            run(JobKind::CreateSketches, 11, Outcome::Failed),
        ];
        let model = jobs_page(vec![Vec::new(), create], &cal, now);
        assert_eq!(model.jobs.len(), 4);
        assert_eq!(model.jobs[1].job, "create-sketches");
        assert_eq!(model.jobs[1].runs[0].duration_ms, 16_500);
        assert!(model.jobs[2].runs.is_empty());
        let html = render(&model, &Nav::ALL);
        assert_eq!(html.matches("<circle class=\"pt\"").count(), 2);
        // The chart's axis is labelled by start (10 May 03:30 BST), not by firing (02:00).
        assert!(html.contains(">05-10 03:30<"), "{html}");
        assert!(!html.contains(">05-10 02:00<"), "{html}");
        assert_eq!(html.matches("<form class=\"inline\"").count(), 4);
        assert!(html.contains("created 10, groups 2"));
        assert!(html.contains("failed for c-&lt;1&gt;"));
        assert!(!html.contains("<b>host"));
        let json = serde_json::to_value(&model).unwrap();
        assert_eq!(json["jobs"][1]["runs"][0]["outcome"], "failed");
        assert_eq!(json["jobs"][1]["runs"][1]["counts"]["created"], 10);
        assert_eq!(json["jobs"][1]["nextFiring"], "2018-05-13T00:00:00.000Z");
    }

    #[test]
    fn the_report_page_says_what_the_job_did_and_links_back() {
        let mut report = JobReport::default();
        report.counts.insert("created", 1500);
        report.failed.push("<c>".into());
        let at = utc("2018-05-11T00:00:00Z");
        let html = render_report(JobKind::CreateSketches, &at, &report, &[Nav::Overview]);
        assert!(html.contains("<p>create-sketches ran as of 2018-05-11T00:00:00.000Z.</p>"));
        assert!(html.contains("<th scope=\"row\">created</th><td class=\"num\">1,500</td>"));
        assert!(html.contains("Failed for &lt;c&gt;."));
        assert!(html.contains("<a href=\"/admin\">Back to Overview</a>"));
        let html = render_report(JobKind::CreateSketches, &at, &report, &Nav::ALL);
        assert!(html.contains("<a href=\"/admin/jobs\">Back to Jobs</a>"));
    }
}
