//! The nightly jobs and their local firing times in the reference zone, and a run of a job as
//! the job ledger keeps it: which job, as of which firing, on which server process, when, how
//! long, how it ended and what it did. The history of runs is shown on the operator's console
//! and survives restarts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::Serialize;

use super::time::Calendar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    AggregateSketches,
    CreateSketches,
    PruneClients,
    CollectGarbage,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        JobKind::AggregateSketches,
        JobKind::CreateSketches,
        JobKind::PruneClients,
        JobKind::CollectGarbage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JobKind::AggregateSketches => "aggregate-sketches",
            JobKind::CreateSketches => "create-sketches",
            JobKind::PruneClients => "prune-clients",
            JobKind::CollectGarbage => "collect-garbage",
        }
    }

    /// The local time of day it fires at.
    pub fn local_time(self) -> NaiveTime {
        let (h, m) = match self {
            JobKind::AggregateSketches => (0, 30),
            JobKind::CreateSketches => (1, 0),
            JobKind::PruneClients => (2, 0),
            JobKind::CollectGarbage => (3, 0),
        };
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
    }

    /// The latest scheduled firing at or before `now`.
    pub fn latest_firing(self, cal: &Calendar, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = cal.local_date(now);
        let t = cal.at(today, self.local_time());
        if t <= now {
            t
        } else {
            cal.at(today - Duration::days(1), self.local_time())
        }
    }

    /// The first scheduled firing strictly after `now`.
    pub fn next_firing(self, cal: &Calendar, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut date = cal.local_date(now);
        loop {
            let t = cal.at(date, self.local_time());
            if t > now {
                return t;
            }
            date += Duration::days(1);
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|j| j.name() == s)
            .ok_or_else(|| format!("unknown job {s:?}"))
    }
}

/// Longest error message kept with a run.
pub const MAX_RUN_ERROR_LEN: usize = 1000;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done for every campaign.
    Ok,
    /// Done, but failed for some campaigns.
    Failed,
    /// Stopped at a safe point for shutdown.
    Interrupted,
    /// Could not run (e.g. the campaigns could not be listed).
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Failed,
        Outcome::Interrupted,
        Outcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
            Outcome::Error => "error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown outcome {s:?}"))
    }
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    /// The job's name (`create-sketches`).
    pub job: String,
    /// The scheduled time it ran as of (for a run asked on the admin port, its `at`).
    pub firing: DateTime<Utc>,
    /// Which server process ran it.
    pub instance: String,
    pub started: DateTime<Utc>,
    pub duration_ms: u64,
    pub outcome: Outcome,
    /// What it did, by counter name.
    pub counts: BTreeMap<String, u64>,
    /// Campaigns it failed for.
    pub failed: Vec<String>,
    /// Why it could not run (outcome `Error`), at most `MAX_RUN_ERROR_LEN` characters.
    pub error: Option<String>,
}

/// `message` cut to `MAX_RUN_ERROR_LEN` characters.
pub fn run_error(message: &str) -> String {
    match message.char_indices().nth(MAX_RUN_ERROR_LEN) {
        Some((i, _)) => format!("{}…", &message[..i]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn firings_are_local_times_in_reference_zone() {
        let cal = Calendar::new(chrono_tz::Europe::London);
        let now = utc("2018-07-01T00:10:00Z"); // 01:10 BST
        assert_eq!(
            JobKind::AggregateSketches.latest_firing(&cal, now),
            utc("2018-06-30T23:30:00Z")
        );
        assert_eq!(
            JobKind::CreateSketches.latest_firing(&cal, now),
            utc("2018-07-01T00:00:00Z")
        );
        assert_eq!(
            JobKind::PruneClients.latest_firing(&cal, now),
            utc("2018-06-30T01:00:00Z")
        );
        assert_eq!(
            JobKind::PruneClients.next_firing(&cal, now),
            utc("2018-07-01T01:00:00Z")
        );
        assert_eq!(
            JobKind::CreateSketches.next_firing(&cal, utc("2018-07-01T00:00:00Z")),
            utc("2018-07-02T00:00:00Z")
        );
    }

    #[test]
    fn job_names_round_trip() {
        for job in JobKind::ALL {
            assert_eq!(job.name().parse::<JobKind>(), Ok(job));
        }
        assert!("nope".parse::<JobKind>().is_err());
    }

    #[test]
    fn outcomes_round_trip_their_names() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert!("done".parse::<Outcome>().is_err());
    }

    #[test]
    fn long_errors_are_cut() {
        assert_eq!(run_error("short"), "short");
        let long = "é".repeat(MAX_RUN_ERROR_LEN + 5);
        let cut = run_error(&long);
        assert_eq!(cut.chars().count(), MAX_RUN_ERROR_LEN + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(
            run_error(&"x".repeat(MAX_RUN_ERROR_LEN)).len(),
            MAX_RUN_ERROR_LEN
        );
    }
}
