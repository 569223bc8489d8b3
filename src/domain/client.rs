//! Clients (browser extensions that donate data) and their activity (one entry per ping).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::campaign::MAX_NAME_LEN;
use super::error::{Errors, Invalid};
use super::text;

/// Longest extension version or time zone kept with an activity.
pub const MAX_ACTIVITY_FIELD_LEN: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub name: String,
    pub create_time: DateTime<Utc>,
    pub public_key: String,
    pub browser: String,
    pub external_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub client_name: String,
    pub time: DateTime<Utc>,
    pub country_code: Option<String>,
    pub extension_version: Option<String>,
    pub timezone: Option<String>,
}

/// A client as the dashboard sees it: with what its latest ping told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientDetails {
    pub client: Client,
    pub latest_activity: Option<Activity>,
}

/// The clients of one local day of the reference zone, counted once the day is over. Counts
/// only: nothing about any one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientDay {
    pub date: NaiveDate,
    /// Clients created that day (and still registered when counted).
    pub registrations: u64,
    /// Distinct clients with activity that day.
    pub active: u64,
}

/// The active clients of a day by the country and by the extension version of their last
/// activity that day (`None`: not known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientBreakdown {
    pub countries: BTreeMap<Option<String>, u64>,
    pub extension_versions: BTreeMap<Option<String>, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInput {
    pub public_key: Option<String>,
    pub browser: Option<String>,
    pub external_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidClient {
    pub public_key: String,
    pub browser: String,
    pub external_name: Option<String>,
}

/// Present, not blank, not too long; `true` when all three hold.
fn check_required(errors: &mut Errors, field: &str, value: Option<&str>) -> bool {
    match value {
        None => errors.add(field, "is required"),
        Some(v) if v.trim().is_empty() => errors.add(field, "should not be empty"),
        Some(v) if v.chars().count() > MAX_NAME_LEN => errors.add(
            field,
            format!("should be at most {MAX_NAME_LEN} characters"),
        ),
        Some(_) => return true,
    }
    false
}

pub fn check_external_name(errors: &mut Errors, external_name: Option<&str>) {
    let Some(name) = external_name else {
        return;
    };
    if name.chars().count() > MAX_NAME_LEN {
        errors.add(
            "externalName",
            format!("should be at most {MAX_NAME_LEN} characters"),
        );
    } else {
        text::check_line(errors, "externalName", name);
    }
}

pub fn validate_registration(input: &ClientInput) -> Result<ValidClient, Invalid> {
    let mut errors = Errors::default();
    check_required(&mut errors, "publicKey", input.public_key.as_deref());
    // Hexadecimal digits only: no control character gets through this check either.
    if let Some(key) = input.public_key.as_deref().filter(|k| !k.trim().is_empty()) {
        if !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            errors.add("publicKey", "should be hexadecimal");
        } else if key.len() % 2 != 0 {
            errors.add("publicKey", "should have an even number of digits");
        }
    }
    if check_required(&mut errors, "browser", input.browser.as_deref()) {
        text::check_line(
            &mut errors,
            "browser",
            input.browser.as_deref().unwrap_or(""),
        );
    }
    check_external_name(&mut errors, input.external_name.as_deref());
    errors.into_result()?;
    Ok(ValidClient {
        public_key: input.public_key.clone().unwrap_or_default(),
        browser: input.browser.clone().unwrap_or_default(),
        external_name: input.external_name.clone(),
    })
}

/// Checks the optional fields a ping carries.
pub fn validate_ping(
    extension_version: Option<&str>,
    timezone: Option<&str>,
) -> Result<(), Invalid> {
    let mut errors = Errors::default();
    for (field, value) in [
        ("extensionVersion", extension_version),
        ("timezone", timezone),
    ] {
        let Some(value) = value else { continue };
        if value.chars().count() > MAX_ACTIVITY_FIELD_LEN {
            errors.add(
                field,
                format!("should be at most {MAX_ACTIVITY_FIELD_LEN} characters"),
            );
        } else {
            text::check_line(&mut errors, field, value);
        }
    }
    errors.into_result()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(input: ClientInput) -> Vec<String> {
        match validate_registration(&input) {
            Err(Invalid(e)) => e.iter().map(|e| e.to_string()).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn registration_requires_public_key_and_browser() {
        assert_eq!(
            messages(ClientInput::default()),
            vec!["publicKey: is required", "browser: is required"]
        );
        assert_eq!(
            messages(ClientInput {
                public_key: Some("".into()),
                browser: Some(" ".into()),
                external_name: None
            }),
            vec![
                "publicKey: should not be empty",
                "browser: should not be empty"
            ]
        );
    }

    #[test]
    fn registration_requires_even_length_hex_key() {
        let with_key = |k: &str| ClientInput {
            public_key: Some(k.into()),
            browser: Some("chrome".into()),
            external_name: None,
        };
        assert_eq!(
            messages(with_key("04zz")),
            vec!["publicKey: should be hexadecimal"]
        );
        assert_eq!(
            messages(with_key("04a")),
            vec!["publicKey: should have an even number of digits"]
        );
        assert_eq!(
            messages(with_key(&"a".repeat(256))),
            vec!["publicKey: should be at most 255 characters"]
        );
        let ok = validate_registration(&with_key("04AbCd")).unwrap();
        assert_eq!(ok.public_key, "04AbCd");
    }

    #[test]
    fn registration_bounds_external_name() {
        let input = ClientInput {
            public_key: Some("04".into()),
            browser: Some("chrome".into()),
            external_name: Some("x".repeat(256)),
        };
        assert_eq!(
            messages(input),
            vec!["externalName: should be at most 255 characters"]
        );
    }

    #[test]
    fn registration_refuses_control_and_bidi_characters() {
        assert_eq!(
            messages(ClientInput {
                public_key: Some("04ab\u{0}".into()),
                browser: Some("chrome\u{0}".into()),
                external_name: Some("panel\u{202e}71".into()),
            }),
            vec![
                "publicKey: should be hexadecimal",
                "browser: should not contain control characters",
                "externalName: should not contain control characters",
            ]
        );
        let mut errors = Errors::default();
        check_external_name(&mut errors, Some("\u{2069}"));
        assert!(!errors.is_empty());
        let mut errors = Errors::default();
        check_external_name(&mut errors, Some("panel 17 (école)"));
        assert!(errors.is_empty());
    }

    #[test]
    fn ping_fields_refuse_control_characters() {
        match validate_ping(Some("1.0\u{7f}"), Some("Europe/Paris\n")) {
            Err(Invalid(e)) => assert_eq!(
                e.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                vec![
                    "extensionVersion: should not contain control characters",
                    "timezone: should not contain control characters"
                ]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ping_fields_are_bounded() {
        assert!(validate_ping(Some("1.0.3"), Some("Europe/Paris")).is_ok());
        match validate_ping(Some(&"v".repeat(51)), Some(&"z".repeat(51))) {
            Err(Invalid(e)) => assert_eq!(
                e.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                vec![
                    "extensionVersion: should be at most 50 characters",
                    "timezone: should be at most 50 characters"
                ]
            ),
            other => panic!("{other:?}"),
        }
    }
}
