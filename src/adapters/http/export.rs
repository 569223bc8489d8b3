//! Result export: the format chosen from `Accept`, and the CSV and JSON renderings.

use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::reply::Response;

use super::dto::ExportRowOut;
use crate::domain::export::ExportRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV, answered with the media type asked (`text/csv` or `application/csv`).
    Csv(&'static str),
    Json,
}

/// The format to answer for an `Accept` header: the acceptable media range of highest quality
/// (the first on ties) that is offered; JSON when there is no header. `None`: 406.
pub fn negotiate(accept: Option<&str>) -> Option<Format> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(Format::Json);
    };
    let mut best: Option<(f32, Format)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality <= 0.0 {
            continue;
        }
        let format = match media.as_str() {
            "text/csv" | "text/*" => Format::Csv("text/csv"),
            "application/csv" => Format::Csv("application/csv"),
            "application/json" | "application/*" | "*/*" => Format::Json,
            _ => continue,
        };
        if best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, format));
        }
    }
    best.map(|(_, f)| f)
}

/// CSV `day,query,count` with RFC 4180 quoting.
pub fn csv(rows: &[ExportRow]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["day", "query", "count"])?;
    for r in rows {
        w.write_record([r.date.to_string(), r.query.clone(), r.count.to_string()])?;
    }
    w.into_inner()
        .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))
}

/// The rows in `format`.
pub fn render(rows: &[ExportRow], format: Format) -> Response {
    let (body, content_type) = match format {
        Format::Csv(media) => (csv(rows).map_err(|e| e.to_string()), media),
        Format::Json => {
            let rows: Vec<ExportRowOut> = rows.iter().map(ExportRowOut::from).collect();
            (
                serde_json::to_vec(&rows).map_err(|e| e.to_string()),
                "application/json",
            )
        }
    };
    match body {
        Ok(body) => {
            let mut res = Response::new(body.into());
            let value = if content_type == "application/json" {
                HeaderValue::from_static("application/json")
            } else if content_type == "application/csv" {
                HeaderValue::from_static("application/csv; charset=utf-8")
            } else {
                HeaderValue::from_static("text/csv; charset=utf-8")
            };
            res.headers_mut().insert(CONTENT_TYPE, value);
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "export rendering failed: answering 500");
            super::rejection::errors_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &["internal server error".to_string()],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_highest_quality_and_defaults_to_json() {
        assert_eq!(negotiate(None), Some(Format::Json));
        assert_eq!(negotiate(Some("text/csv")), Some(Format::Csv("text/csv")));
        assert_eq!(
            negotiate(Some("application/csv")),
            Some(Format::Csv("application/csv"))
        );
        assert_eq!(
            negotiate(Some("application/json;q=0.5, text/csv")),
            Some(Format::Csv("text/csv"))
        );
        assert_eq!(
            negotiate(Some("text/html,application/xhtml+xml,*/*;q=0.8")),
            Some(Format::Json)
        );
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("text/csv;q=0")), None);
    }
}
