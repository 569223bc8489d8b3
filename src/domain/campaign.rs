//! Campaigns: what researchers watch (a vocabulary of search queries), when and how. Holds the
//! validation of new and updated campaigns.

use chrono::{DateTime, Utc};

use super::error::{Errors, Invalid};
use super::text;
use super::time::{self, Calendar, Day};

pub const MAX_NAME_LEN: usize = 255;
pub const MAX_NOTES_LEN: usize = 64 * 1024;
pub const MAX_QUERIES: usize = 10_000;
/// Longest exact query or term, in characters.
pub const MAX_QUERY_LEN: usize = 200;
/// Most terms in one terms query.
pub const MAX_TERMS: usize = 32;
/// Default `maxCount`: more searches than one person makes in a day.
pub const DEFAULT_MAX_COUNT: i32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Query {
    Exact(String),
    Terms(Vec<String>),
}

impl Query {
    /// The label used in exports: the exact text, or the terms joined by `, `.
    pub fn label(&self) -> String {
        match self {
            Query::Exact(s) => s.clone(),
            Query::Terms(terms) => terms.join(", "),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    pub queries: Vec<Query>,
}

impl Vocabulary {
    /// The first `n` queries (all of them when there are fewer).
    pub fn truncated(&self, n: usize) -> Vocabulary {
        Vocabulary {
            queries: self.queries.iter().take(n).cloned().collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub name: String,
    pub create_time: DateTime<Utc>,
    pub display_name: String,
    pub email: Option<String>,
    pub notes: Option<String>,
    pub vocabulary: Vocabulary,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub delay: i32,
    pub grace_delay: i32,
    pub group_size: i32,
    pub sampling_rate: Option<f64>,
    pub collect_encrypted: bool,
    pub collect_raw: bool,
    /// The most searches one member may count in a day: a group's decrypted element above
    /// members × maxCount (or below 0) rejects the group; a raw value above it is refused.
    pub max_count: i32,
    /// The release threshold: a day with fewer decrypted members has its values withheld
    /// (0: every day is released).
    pub min_decrypted_count: i32,
}

/// Where a campaign stands at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub started: bool,
    pub completed: bool,
    pub active: bool,
}

impl Campaign {
    /// startTime is set and not in the future.
    pub fn started(&self, now: DateTime<Utc>) -> bool {
        self.start_time.is_some_and(|t| t <= now)
    }

    /// endTime is set and not in the future.
    pub fn completed(&self, now: DateTime<Utc>) -> bool {
        self.end_time.is_some_and(|t| t <= now)
    }

    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.started(now) && !self.completed(now)
    }

    /// Where the campaign stands at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> Status {
        Status {
            started: self.started(now),
            completed: self.completed(now),
            active: self.active(now),
        }
    }

    /// The last day that gets sketches: the day containing the last instant before endTime.
    /// `None` when the campaign has no end (or no start).
    pub fn last_day(&self, cal: &Calendar) -> Option<Day> {
        let start = self.start_time?;
        let end = self.end_time?;
        Some(cal.relative_day(start, end - chrono::Duration::milliseconds(1)))
    }

    /// Whether day `d` lies (at least partly) within [startTime, endTime).
    pub fn collects_day(&self, cal: &Calendar, d: Day) -> bool {
        match self.start_time {
            None => false,
            Some(_) if d < 0 => false,
            Some(_) => self.last_day(cal).is_none_or(|last| d <= last),
        }
    }

    /// Days counted from the start after which day `d` had its final aggregation; a sketch of
    /// day `d` is open while `relative_day(start, now) < d + window_days()`.
    pub fn window_days(&self) -> Day {
        2 + self.delay as Day + self.grace_delay as Day
    }
}

/// A query as received: exactly one of the two must be given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryInput {
    pub exact: Option<String>,
    pub terms: Option<Vec<String>>,
}

/// The editable fields of a campaign as received (create or full replacement); `None` means
/// absent and takes the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignInput {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub notes: Option<String>,
    pub vocabulary: Option<Vec<QueryInput>>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub delay: Option<i64>,
    pub grace_delay: Option<i64>,
    pub group_size: Option<i64>,
    pub sampling_rate: Option<f64>,
    pub collect_encrypted: Option<bool>,
    pub collect_raw: Option<bool>,
    pub max_count: Option<i64>,
    pub min_decrypted_count: Option<i64>,
}

/// The editable part of a campaign after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignFields {
    pub display_name: String,
    pub email: Option<String>,
    pub notes: Option<String>,
    pub vocabulary: Vocabulary,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub delay: i32,
    pub grace_delay: i32,
    pub group_size: i32,
    pub sampling_rate: Option<f64>,
    pub collect_encrypted: bool,
    pub collect_raw: bool,
    pub max_count: i32,
    pub min_decrypted_count: i32,
}

impl CampaignFields {
    pub fn into_campaign(self, name: String, create_time: DateTime<Utc>) -> Campaign {
        Campaign {
            name,
            create_time,
            display_name: self.display_name,
            email: self.email,
            notes: self.notes,
            vocabulary: self.vocabulary,
            start_time: self.start_time,
            end_time: self.end_time,
            delay: self.delay,
            grace_delay: self.grace_delay,
            group_size: self.group_size,
            sampling_rate: self.sampling_rate,
            collect_encrypted: self.collect_encrypted,
            collect_raw: self.collect_raw,
            max_count: self.max_count,
            min_decrypted_count: self.min_decrypted_count,
        }
    }
}

/// A text that goes into a separated list (email, vocabulary term): not blank, no separator,
/// no other control character, at most `max_len` characters.
fn check_separated_text(errors: &mut Errors, field: &str, value: &str, max_len: usize) {
    if value.trim().is_empty() {
        errors.add(field, "should not be empty");
    } else if value.contains(',') {
        errors.add(field, "should not contain a comma");
    } else if value.contains(['\n', '\r']) {
        errors.add(field, "should not contain a line break");
    } else {
        text::check_line(errors, field, value);
    }
    if value.chars().count() > max_len {
        errors.add(field, format!("should be at most {max_len} characters"));
    }
}

fn check_time(errors: &mut Errors, field: &str, value: Option<DateTime<Utc>>) {
    if value.is_some_and(|t| !time::in_range(t)) {
        errors.add(field, time::TIME_RANGE_MESSAGE);
    }
}

fn check_int(errors: &mut Errors, field: &str, value: i64, min: i64) -> i32 {
    if value < min {
        errors.add(field, format!("should be at least {min}"));
    } else if value > i32::MAX as i64 {
        errors.add(field, format!("should be at most {}", i32::MAX));
    }
    value.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

fn validate_query(errors: &mut Errors, index: usize, query: &QueryInput) -> Option<Query> {
    let field = format!("vocabulary.queries.{index}");
    match (&query.exact, &query.terms) {
        (None, None) => {
            errors.add(field, "should specify a query");
            None
        }
        (Some(_), Some(_)) => {
            errors.add(
                field,
                "should specify either an exact or terms query, not both",
            );
            None
        }
        (Some(exact), None) => {
            check_separated_text(errors, &format!("{field}.exact"), exact, MAX_QUERY_LEN);
            Some(Query::Exact(exact.trim().to_string()))
        }
        (None, Some(terms)) => {
            if terms.is_empty() {
                errors.add(format!("{field}.terms"), "should not be empty");
            } else if terms.len() > MAX_TERMS {
                errors.add(
                    format!("{field}.terms"),
                    format!("should have at most {MAX_TERMS} terms"),
                );
                return None;
            }
            for (i, term) in terms.iter().enumerate() {
                check_separated_text(errors, &format!("{field}.terms.{i}"), term, MAX_QUERY_LEN);
            }
            Some(Query::Terms(
                terms.iter().map(|t| t.trim().to_string()).collect(),
            ))
        }
    }
}

/// Validates a campaign as received, reporting every problem at once, and applies defaults.
pub fn validate(input: &CampaignInput) -> Result<CampaignFields, Invalid> {
    let mut errors = Errors::default();
    let display_name = input.display_name.clone().unwrap_or_default();
    if display_name.trim().is_empty() {
        errors.add("displayName", "should not be empty");
    } else if display_name.chars().count() > MAX_NAME_LEN {
        errors.add(
            "displayName",
            format!("should be at most {MAX_NAME_LEN} characters"),
        );
    } else {
        text::check_line(&mut errors, "displayName", &display_name);
    }
    if let Some(email) = &input.email {
        check_separated_text(&mut errors, "email", email, MAX_NAME_LEN);
    }
    if let Some(notes) = &input.notes {
        if notes.len() > MAX_NOTES_LEN {
            errors.add("notes", format!("should be at most {MAX_NOTES_LEN} bytes"));
        } else {
            text::check_paragraphs(&mut errors, "notes", notes);
        }
    }
    let delay = check_int(&mut errors, "delay", input.delay.unwrap_or(0), 0);
    let grace_delay = check_int(&mut errors, "graceDelay", input.grace_delay.unwrap_or(0), 0);
    let group_size = check_int(&mut errors, "groupSize", input.group_size.unwrap_or(10), 2);
    if let Some(rate) = input.sampling_rate {
        if !(0.0..=1.0).contains(&rate) {
            errors.add("samplingRate", "should be between 0 and 1");
        }
    }
    let max_count = check_int(
        &mut errors,
        "maxCount",
        input.max_count.unwrap_or(DEFAULT_MAX_COUNT.into()),
        1,
    );
    let min_decrypted_count = check_int(
        &mut errors,
        "minDecryptedCount",
        input.min_decrypted_count.unwrap_or(0),
        0,
    );
    check_time(&mut errors, "startTime", input.start_time);
    check_time(&mut errors, "endTime", input.end_time);
    if let (Some(start), Some(end)) = (input.start_time, input.end_time) {
        if end < start {
            errors.add("endTime", "should be after startTime");
        }
    }
    let raw_queries = input.vocabulary.as_deref().unwrap_or_default();
    let mut queries = Vec::with_capacity(raw_queries.len().min(MAX_QUERIES));
    if raw_queries.len() > MAX_QUERIES {
        errors.add(
            "vocabulary.queries",
            format!("should hold at most {MAX_QUERIES} queries"),
        );
    } else {
        for (i, q) in raw_queries.iter().enumerate() {
            if let Some(q) = validate_query(&mut errors, i, q) {
                queries.push(q);
            }
        }
    }
    errors.into_result()?;
    Ok(CampaignFields {
        display_name,
        email: input.email.as_ref().map(|e| e.trim().to_string()),
        notes: input.notes.clone(),
        vocabulary: Vocabulary { queries },
        start_time: input.start_time,
        end_time: input.end_time,
        delay,
        grace_delay,
        group_size,
        sampling_rate: input.sampling_rate,
        collect_encrypted: input.collect_encrypted.unwrap_or(true),
        collect_raw: input.collect_raw.unwrap_or(false),
        max_count,
        min_decrypted_count,
    })
}

/// How far in the past a new endTime may be and still be taken as now.
pub const LATE_END_MINUTES: i64 = 10;

/// On a running campaign, an endTime changed to at most `LATE_END_MINUTES` before `now` is
/// taken as `now`: the dashboard's Stop button sends the browser's clock cut to the second,
/// which always arrives a little in the past. Apply before `validate_update`.
pub fn take_late_end_as_now(current: &Campaign, new: &mut CampaignFields, now: DateTime<Utc>) {
    let running = current.started(now) && !current.completed(now);
    let late =
        |end: DateTime<Utc>| end < now && now - end <= chrono::Duration::minutes(LATE_END_MINUTES);
    if running && new.end_time != current.end_time && new.end_time.is_some_and(late) {
        new.end_time = Some(now);
    }
}

/// Checks a full replacement of `current` against the update rules (on top of `validate`).
pub fn validate_update(
    current: &Campaign,
    new: &CampaignFields,
    now: DateTime<Utc>,
) -> Result<(), Invalid> {
    let mut errors = Errors::default();
    if current.started(now) {
        let frozen = "cannot be changed once the campaign has started";
        if new.start_time != current.start_time {
            errors.add("startTime", frozen);
        }
        if new.delay != current.delay {
            errors.add("delay", frozen);
        }
        if new.grace_delay != current.grace_delay {
            errors.add("graceDelay", frozen);
        }
        if new.group_size != current.group_size {
            errors.add("groupSize", frozen);
        }
        if new.sampling_rate != current.sampling_rate {
            errors.add("samplingRate", frozen);
        }
        if new.collect_encrypted != current.collect_encrypted {
            errors.add("collectEncrypted", frozen);
        }
        if new.collect_raw != current.collect_raw {
            errors.add("collectRaw", frozen);
        }
        if new.max_count != current.max_count {
            errors.add("maxCount", frozen);
        }
        // The threshold is a promise to the volunteers: raising it is always allowed, lowering
        // it once they take part would release days it was meant to withhold.
        if new.min_decrypted_count < current.min_decrypted_count {
            errors.add(
                "minDecryptedCount",
                "cannot be lowered once the campaign has started",
            );
        }
        if current.completed(now) {
            if new.end_time != current.end_time {
                errors.add(
                    "endTime",
                    "cannot be changed once the campaign has completed",
                );
            }
        } else if new.end_time != current.end_time && new.end_time.is_some_and(|t| t < now) {
            errors.add("endTime", "cannot be set in the past");
        }
    }
    let old = &current.vocabulary.queries;
    if new.vocabulary.queries.len() < old.len() || new.vocabulary.queries[..old.len()] != old[..] {
        errors.add(
            "vocabulary.queries",
            "existing queries cannot be removed or changed",
        );
    }
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::FieldError;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn messages(r: Result<CampaignFields, Invalid>) -> Vec<String> {
        match r {
            Err(Invalid(errs)) => errs.iter().map(FieldError::to_string).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    fn exact(s: &str) -> QueryInput {
        QueryInput {
            exact: Some(s.into()),
            terms: None,
        }
    }

    fn valid() -> CampaignInput {
        CampaignInput {
            display_name: Some("Flu".into()),
            vocabulary: Some(vec![exact("flu")]),
            ..Default::default()
        }
    }

    #[test]
    fn validate_applies_defaults() {
        let f = validate(&CampaignInput {
            display_name: Some("Flu".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(f.delay, 0);
        assert_eq!(f.grace_delay, 0);
        assert_eq!(f.group_size, 10);
        assert!(f.collect_encrypted);
        assert!(!f.collect_raw);
        assert_eq!(f.max_count, 10_000);
        assert_eq!(f.min_decrypted_count, 0);
        assert_eq!(f.vocabulary, Vocabulary::default());
        assert_eq!(f.sampling_rate, None);
    }

    #[test]
    fn validate_reports_every_numeric_rule_together() {
        let input = CampaignInput {
            display_name: Some("  ".into()),
            delay: Some(-1),
            grace_delay: Some(-2),
            group_size: Some(1),
            sampling_rate: Some(1.5),
            start_time: Some(t("2018-05-12T00:00:00Z")),
            end_time: Some(t("2018-05-11T00:00:00Z")),
            ..Default::default()
        };
        assert_eq!(
            messages(validate(&input)),
            vec![
                "displayName: should not be empty",
                "delay: should be at least 0",
                "graceDelay: should be at least 0",
                "groupSize: should be at least 2",
                "samplingRate: should be between 0 and 1",
                "endTime: should be after startTime",
            ]
        );
    }

    #[test]
    fn validate_rejects_negative_sampling_rate_and_accepts_bounds() {
        let mut input = valid();
        input.sampling_rate = Some(-0.1);
        assert_eq!(
            messages(validate(&input)),
            vec!["samplingRate: should be between 0 and 1"]
        );
        input.sampling_rate = Some(0.0);
        assert!(validate(&input).is_ok());
        input.sampling_rate = Some(1.0);
        assert!(validate(&input).is_ok());
    }

    #[test]
    fn validate_accepts_end_equal_to_start() {
        let mut input = valid();
        input.start_time = Some(t("2018-05-12T00:00:00Z"));
        input.end_time = input.start_time;
        assert!(validate(&input).is_ok());
    }

    #[test]
    fn validate_rejects_email_and_terms_with_separators_or_blank() {
        let input = CampaignInput {
            display_name: Some("Flu".into()),
            email: Some("a,b@c.org".into()),
            vocabulary: Some(vec![
                exact("flu\nfever"),
                QueryInput {
                    exact: None,
                    terms: Some(vec!["flu".into(), " ".into(), "a,b".into()]),
                },
                QueryInput::default(),
                QueryInput {
                    exact: Some("x".into()),
                    terms: Some(vec!["y".into()]),
                },
                QueryInput {
                    exact: None,
                    terms: Some(vec![]),
                },
            ]),
            ..Default::default()
        };
        assert_eq!(
            messages(validate(&input)),
            vec![
                "email: should not contain a comma",
                "vocabulary.queries.0.exact: should not contain a line break",
                "vocabulary.queries.1.terms.1: should not be empty",
                "vocabulary.queries.1.terms.2: should not contain a comma",
                "vocabulary.queries.2: should specify a query",
                "vocabulary.queries.3: should specify either an exact or terms query, not both",
                "vocabulary.queries.4.terms: should not be empty",
            ]
        );
    }

    #[test]
    fn validate_rejects_blank_email() {
        let mut input = valid();
        input.email = Some(" ".into());
        assert_eq!(
            messages(validate(&input)),
            vec!["email: should not be empty"]
        );
    }

    #[test]
    fn validate_bounds_sizes() {
        let mut input = valid();
        input.display_name = Some("x".repeat(256));
        input.notes = Some("n".repeat(MAX_NOTES_LEN + 1));
        input.email = Some("e".repeat(256));
        input.vocabulary = Some(vec![exact("q"); MAX_QUERIES + 1]);
        assert_eq!(
            messages(validate(&input)),
            vec![
                "displayName: should be at most 255 characters",
                "email: should be at most 255 characters",
                "notes: should be at most 65536 bytes",
                "vocabulary.queries: should hold at most 10000 queries",
            ]
        );
        input.display_name = Some("x".repeat(255));
        input.notes = Some("n".repeat(MAX_NOTES_LEN));
        input.email = Some("e".repeat(255));
        input.vocabulary = Some(vec![exact("q"); MAX_QUERIES]);
        assert!(validate(&input).is_ok());
    }

    #[test]
    fn validate_bounds_max_count_and_min_decrypted_count() {
        let mut input = valid();
        input.max_count = Some(0);
        input.min_decrypted_count = Some(-1);
        assert_eq!(
            messages(validate(&input)),
            vec![
                "maxCount: should be at least 1",
                "minDecryptedCount: should be at least 0"
            ]
        );
        input.max_count = Some(i64::from(i32::MAX) + 1);
        input.min_decrypted_count = Some(i64::from(i32::MAX) + 1);
        assert_eq!(
            messages(validate(&input)),
            vec![
                "maxCount: should be at most 2147483647",
                "minDecryptedCount: should be at most 2147483647"
            ]
        );
        input.max_count = Some(1);
        input.min_decrypted_count = Some(25);
        let f = validate(&input).unwrap();
        assert_eq!((f.max_count, f.min_decrypted_count), (1, 25));
    }

    #[test]
    fn validate_bounds_times_from_1970_to_the_end_of_9999() {
        let mut input = valid();
        input.start_time = Some(t("1969-12-31T23:59:59.999Z"));
        input.end_time = DateTime::from_timestamp_millis(8_000_000_000_000_000); // year 255479
        assert_eq!(
            messages(validate(&input)),
            vec![
                "startTime: should be between 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z",
                "endTime: should be between 1970-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z",
            ]
        );
        input.start_time = Some(t("1970-01-01T00:00:00Z"));
        input.end_time = Some(t("9999-12-31T23:59:59.999Z"));
        assert!(validate(&input).is_ok());
    }

    #[test]
    fn validate_bounds_queries_to_32_terms_of_200_characters() {
        let terms = |n: usize| QueryInput {
            exact: None,
            terms: Some((0..n).map(|i| format!("t{i}")).collect()),
        };
        let mut input = valid();
        input.vocabulary = Some(vec![
            terms(32),
            terms(33),
            terms(100_000),
            exact(&"x".repeat(200)),
            exact(&"x".repeat(201)),
            QueryInput {
                exact: None,
                terms: Some(vec!["é".repeat(200), "é".repeat(201)]),
            },
        ]);
        assert_eq!(
            messages(validate(&input)),
            vec![
                "vocabulary.queries.1.terms: should have at most 32 terms",
                "vocabulary.queries.2.terms: should have at most 32 terms",
                "vocabulary.queries.4.exact: should be at most 200 characters",
                "vocabulary.queries.5.terms.1: should be at most 200 characters",
            ]
        );
    }

    #[test]
    fn validate_refuses_control_and_bidi_characters_in_every_text_field() {
        let input = CampaignInput {
            display_name: Some("Flu\u{0}".into()),
            email: Some("a@b.org\u{7f}".into()),
            notes: Some("first line\r\n\tsecond line\u{1b}[31m".into()),
            vocabulary: Some(vec![
                exact("\u{202e}ulf"),
                QueryInput {
                    exact: None,
                    terms: Some(vec!["flu".into(), "fe\u{2066}ver".into(), "a\tb".into()]),
                },
                exact("=cmd|' /C calc'!A0"),
            ]),
            ..Default::default()
        };
        assert_eq!(
            messages(validate(&input)),
            vec![
                "displayName: should not contain control characters",
                "email: should not contain control characters",
                "notes: should not contain control characters",
                "vocabulary.queries.0.exact: should not contain control characters",
                "vocabulary.queries.1.terms.1: should not contain control characters",
                "vocabulary.queries.1.terms.2: should not contain control characters",
            ]
        );
        // Notes keep their tabs and line breaks.
        let mut ok = valid();
        ok.notes = Some("first line\r\n\tsecond line\n".into());
        assert_eq!(
            validate(&ok).unwrap().notes.as_deref(),
            Some("first line\r\n\tsecond line\n")
        );
    }

    #[test]
    fn validate_rejects_group_size_beyond_i32() {
        let mut input = valid();
        input.group_size = Some(i64::MAX);
        assert_eq!(
            messages(validate(&input)),
            vec!["groupSize: should be at most 2147483647"]
        );
    }

    fn campaign(start: &str, end: Option<&str>) -> Campaign {
        let mut input = valid();
        input.start_time = Some(t(start));
        input.end_time = end.map(t);
        validate(&input)
            .unwrap()
            .into_campaign("c".into(), t("2018-01-01T00:00:00Z"))
    }

    fn fields_of(c: &Campaign) -> CampaignFields {
        CampaignFields {
            display_name: c.display_name.clone(),
            email: c.email.clone(),
            notes: c.notes.clone(),
            vocabulary: c.vocabulary.clone(),
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
        }
    }

    fn update_messages(current: &Campaign, new: &CampaignFields, now: &str) -> Vec<String> {
        match validate_update(current, new, t(now)) {
            Ok(()) => vec![],
            Err(Invalid(errs)) => errs.iter().map(FieldError::to_string).collect(),
        }
    }

    #[test]
    fn update_of_started_campaign_freezes_collection_settings() {
        let c = campaign("2018-05-01T00:00:00Z", None);
        let mut new = fields_of(&c);
        new.start_time = Some(t("2018-05-02T00:00:00Z"));
        new.delay = 1;
        new.grace_delay = 1;
        new.group_size = 3;
        new.sampling_rate = Some(0.5);
        new.collect_encrypted = false;
        new.collect_raw = true;
        new.display_name = "renamed is fine".into();
        let frozen = "cannot be changed once the campaign has started";
        assert_eq!(
            update_messages(&c, &new, "2018-05-10T00:00:00Z"),
            [
                "startTime",
                "delay",
                "graceDelay",
                "groupSize",
                "samplingRate",
                "collectEncrypted",
                "collectRaw"
            ]
            .iter()
            .map(|f| format!("{f}: {frozen}"))
            .collect::<Vec<_>>()
        );
        // Before the start everything may change.
        assert_eq!(
            update_messages(&c, &new, "2018-04-30T00:00:00Z"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn update_freezes_max_count_once_started_and_lets_the_threshold_only_rise() {
        let mut c = campaign("2018-05-01T00:00:00Z", None);
        c.min_decrypted_count = 10;
        let mut new = fields_of(&c);
        new.max_count = 500;
        new.min_decrypted_count = 9;
        assert_eq!(
            update_messages(&c, &new, "2018-05-10T00:00:00Z"),
            vec![
                "maxCount: cannot be changed once the campaign has started",
                "minDecryptedCount: cannot be lowered once the campaign has started",
            ]
        );
        new.max_count = c.max_count;
        new.min_decrypted_count = 50;
        assert!(update_messages(&c, &new, "2018-05-10T00:00:00Z").is_empty());
        // Before the start both may change either way.
        new.max_count = 500;
        new.min_decrypted_count = 0;
        assert!(update_messages(&c, &new, "2018-04-30T00:00:00Z").is_empty());
    }

    #[test]
    fn update_of_started_campaign_cannot_set_end_in_past_but_can_in_future() {
        let c = campaign("2018-05-01T00:00:00Z", None);
        let mut new = fields_of(&c);
        new.end_time = Some(t("2018-05-09T00:00:00Z"));
        assert_eq!(
            update_messages(&c, &new, "2018-05-10T00:00:00Z"),
            vec!["endTime: cannot be set in the past"]
        );
        new.end_time = Some(t("2018-05-11T00:00:00Z"));
        assert!(update_messages(&c, &new, "2018-05-10T00:00:00Z").is_empty());
    }

    #[test]
    fn an_end_at_most_ten_minutes_late_on_a_running_campaign_is_taken_as_now() {
        let now = t("2018-05-10T00:00:00.734Z");
        let running = campaign("2018-05-01T00:00:00Z", None);
        let late = |end: &str, c: &Campaign| {
            let mut new = fields_of(c);
            new.end_time = Some(t(end));
            take_late_end_as_now(c, &mut new, now);
            new.end_time
        };
        assert_eq!(late("2018-05-10T00:00:00Z", &running), Some(now));
        assert_eq!(late("2018-05-09T23:50:00.734Z", &running), Some(now));
        // Beyond ten minutes, or in the future, it stays as sent (and the first is refused).
        assert_eq!(
            late("2018-05-09T23:50:00.733Z", &running),
            Some(t("2018-05-09T23:50:00.733Z"))
        );
        assert_eq!(
            late("2018-05-10T00:05:00Z", &running),
            Some(t("2018-05-10T00:05:00Z"))
        );
        // Not running: not started, or completed (whose endTime cannot change at all).
        let future = campaign("2018-05-11T00:00:00Z", None);
        assert_eq!(
            late("2018-05-10T00:00:00Z", &future),
            Some(t("2018-05-10T00:00:00Z"))
        );
        let completed = campaign("2018-05-01T00:00:00Z", Some("2018-05-09T23:59:00Z"));
        assert_eq!(
            late("2018-05-09T23:59:30Z", &completed),
            Some(t("2018-05-09T23:59:30Z"))
        );
        // An unchanged endTime is left alone.
        let stopping = campaign("2018-05-01T00:00:00Z", Some("2018-05-10T00:01:00Z"));
        let mut same = fields_of(&stopping);
        take_late_end_as_now(&stopping, &mut same, now);
        assert_eq!(same.end_time, stopping.end_time);
    }

    #[test]
    fn update_of_completed_campaign_cannot_change_end() {
        let c = campaign("2018-05-01T00:00:00Z", Some("2018-05-05T00:00:00Z"));
        let mut new = fields_of(&c);
        new.end_time = Some(t("2018-06-05T00:00:00Z"));
        assert_eq!(
            update_messages(&c, &new, "2018-05-10T00:00:00Z"),
            vec!["endTime: cannot be changed once the campaign has completed"]
        );
    }

    #[test]
    fn update_vocabulary_is_append_only() {
        let mut c = campaign("2018-05-01T00:00:00Z", None);
        c.vocabulary.queries = vec![Query::Exact("a".into()), Query::Exact("b".into())];
        let mut new = fields_of(&c);
        new.vocabulary.queries.push(Query::Terms(vec!["c".into()]));
        assert!(update_messages(&c, &new, "2018-05-10T00:00:00Z").is_empty());
        new.vocabulary.queries = vec![Query::Exact("a".into())];
        let msg = vec!["vocabulary.queries: existing queries cannot be removed or changed"];
        assert_eq!(update_messages(&c, &new, "2018-04-10T00:00:00Z"), msg);
        new.vocabulary.queries = vec![Query::Exact("b".into()), Query::Exact("a".into())];
        assert_eq!(update_messages(&c, &new, "2018-05-10T00:00:00Z"), msg);
    }

    #[test]
    fn started_completed_active_follow_times() {
        let c = campaign("2018-05-01T00:00:00Z", Some("2018-05-05T00:00:00Z"));
        assert!(!c.started(t("2018-04-30T23:59:59Z")));
        assert!(c.active(t("2018-05-01T00:00:00Z")));
        assert!(c.completed(t("2018-05-05T00:00:00Z")));
        assert!(!c.active(t("2018-05-05T00:00:00Z")));
    }

    #[test]
    fn last_day_is_the_day_holding_the_last_instant_before_end() {
        let cal = Calendar::new(chrono_tz::UTC);
        let c = campaign("2018-05-01T10:00:00Z", Some("2018-05-05T00:00:00Z"));
        assert_eq!(c.last_day(&cal), Some(3));
        assert!(c.collects_day(&cal, 3));
        assert!(!c.collects_day(&cal, 4));
        assert!(!c.collects_day(&cal, -1));
        let open = campaign("2018-05-01T10:00:00Z", None);
        assert_eq!(open.last_day(&cal), None);
        assert!(open.collects_day(&cal, 1000));
    }
}
