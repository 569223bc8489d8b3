//! `/admin/logging`: the current log level and a form to change it while the server runs (the
//! change applies at once, through whatever the process's logging offers: `LogLevelControl`).

use std::fmt::Write as _;

use serde::Serialize;

use crate::adapters::admin::html::{document, esc, Nav};
use crate::config::LogLevel;

/// The running process's log level, readable and changeable.
pub trait LogLevelControl: Send + Sync + 'static {
    fn level(&self) -> LogLevel;
    /// Applies `level` at once; the change itself is logged by the implementation.
    fn set_level(&self, level: LogLevel) -> Result<(), String>;
}

pub const LEVELS: [LogLevel; 7] = [
    LogLevel::All,
    LogLevel::Trace,
    LogLevel::Debug,
    LogLevel::Info,
    LogLevel::Warn,
    LogLevel::Error,
    LogLevel::Off,
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = LoggingPage)]
pub struct Logging {
    /// `None` when this process's logging is not set up to be changed (an application built in
    /// code without its telemetry).
    pub level: Option<&'static str>,
    pub levels: Vec<&'static str>,
}

pub fn logging(control: Option<&dyn LogLevelControl>) -> Logging {
    Logging {
        level: control.map(|c| c.level().as_str()),
        levels: LEVELS.iter().map(|l| l.as_str()).collect(),
    }
}

/// What `POST /admin/logging` answers a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LevelChange {
    pub level: &'static str,
    pub previous: &'static str,
}

pub fn render(model: &Logging, pages: &[Nav]) -> String {
    let mut out = String::with_capacity(2048);
    match model.level {
        None => out.push_str(
            "<p class=\"empty\">This process's logging cannot be changed from here (it was \
             not set up by the server's telemetry).</p>",
        ),
        Some(level) => {
            let _ = write!(
                out,
                "<p>Current level: <strong class=\"level\">{}</strong>. Our own lines are \
                 written at this level; other libraries' at most at INFO.</p>\
                 <form method=\"post\" action=\"/admin/logging\">\
                 <label>New level <select name=\"level\">",
                esc(level)
            );
            for l in &model.levels {
                let selected = if *l == level { " selected" } else { "" };
                let _ = write!(out, "<option value=\"{0}\"{selected}>{0}</option>", esc(l));
            }
            out.push_str(
                "</select></label> <button type=\"submit\">Apply now</button></form>\
                 <p class=\"hint\">Scripts: <code>curl -X POST \
                 'http://ADMIN/admin/logging?level=DEBUG' -H 'Accept: application/json'</code>. \
                 The level goes back to the configured one at the next start.</p>",
            );
        }
    }
    document("Logging", Nav::Logging, pages, &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Fixed(Mutex<LogLevel>);

    impl LogLevelControl for Fixed {
        fn level(&self) -> LogLevel {
            *self.0.lock().unwrap()
        }
        fn set_level(&self, level: LogLevel) -> Result<(), String> {
            *self.0.lock().unwrap() = level;
            Ok(())
        }
    }

    #[test]
    fn the_page_offers_every_level_with_the_current_one_selected() {
        let control = Fixed(Mutex::new(LogLevel::Warn));
        let model = logging(Some(&control));
        assert_eq!(model.level, Some("WARN"));
        assert_eq!(
            model.levels,
            vec!["ALL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"]
        );
        let html = render(&model, &Nav::ALL);
        assert!(html.contains("<option value=\"WARN\" selected>WARN</option>"));
        assert_eq!(html.matches("<option").count(), 7);
        assert!(html.contains("<form method=\"post\" action=\"/admin/logging\">"));
        let none = render(&logging(None), &Nav::ALL);
        assert!(!none.contains("<form"));
        assert_eq!(
            serde_json::to_value(logging(None)).unwrap()["level"],
            serde_json::Value::Null
        );
    }
}
