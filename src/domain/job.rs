//! A run of a nightly job as the job ledger keeps it: which job, as of which firing, on which
//! server process, when, how long, how it ended and what it did. The history of runs is shown
//! on the operator's console and survives restarts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

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
