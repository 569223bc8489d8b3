//! The OpenAPI schemas the derives cannot give: shapes whose serde code is written by hand (the
//! vocabulary, times read in two forms, job reports) and the rules of single fields written as
//! JSON Schema (not blank, no separator, hexadecimal keys, decimal values). The rest of the
//! description is derived from the DTOs themselves (`ToSchema`).

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::VocabularyOut;
use crate::domain::campaign::{MAX_NAME_LEN, MAX_QUERIES};
use crate::domain::client::MAX_ACTIVITY_FIELD_LEN;
use crate::domain::crypto::MAX_DIGITS;
use crate::domain::time;

/// The characters Rust's `str::trim` removes (Unicode White_Space), spelled out: `\s` differs
/// between regex dialects (ECMA counts U+FEFF, Python U+001C to U+001F), and a blank check must
/// mean what the server means.
const WHITE_SPACE: &str = r"\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The control characters no text field takes (`domain::text::is_control`).
const CONTROLS: &str = r"\x00-\x1F\x7F\u202A-\u202E\u2066-\u2069";

/// The same, less the tab and line breaks a paragraph of notes may hold.
const PARAGRAPH_CONTROLS: &str = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F\u202A-\u202E\u2066-\u2069";

/// The extension `openapi::build` turns into `"not": {"pattern": ...}`: a string holding any
/// character of the class is refused. (utoipa's model has no `not`; and an anchored pattern
/// cannot say "nowhere" portably, since Python's `$` also matches before a final line break.)
pub const REFUSE: &str = "x-refuse";

fn refusing(class: &str) -> Option<utoipa::openapi::extensions::Extensions> {
    Some(
        utoipa::openapi::extensions::ExtensionsBuilder::new()
            .add(REFUSE, format!("[{class}]"))
            .build(),
    )
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn string_or_null() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
}

/// One line of text, at most 255 characters, without control characters.
fn line(of: ObjectBuilder, max: usize) -> ObjectBuilder {
    of.max_length(Some(max)).extensions(refusing(CONTROLS))
}

/// A required line: not blank (`displayName`, `browser`).
pub fn name_text() -> Object {
    line(string(), MAX_NAME_LEN)
        .min_length(Some(1))
        .pattern(Some(format!("[^{WHITE_SPACE}]")))
        .build()
}

/// An optional line, or `null` (`externalName`).
pub fn optional_name_text() -> Object {
    line(string_or_null(), MAX_NAME_LEN).build()
}

/// A line that goes into a separated legacy column (email, vocabulary texts): not blank, no
/// comma, no control character (line breaks included).
fn separated_text(of: ObjectBuilder) -> ObjectBuilder {
    of.min_length(Some(1))
        .max_length(Some(MAX_NAME_LEN))
        .pattern(Some(format!("[^{WHITE_SPACE}]")))
        .extensions(refusing(&format!(",{CONTROLS}")))
}

pub fn optional_separated_text() -> Object {
    separated_text(string_or_null()).build()
}

/// Free text of at most 65,536 bytes (`notes`): tabs and line breaks allowed.
pub fn optional_paragraphs() -> Object {
    string_or_null()
        .description(Some(
            "At most 65,536 bytes of UTF-8; tabs and line breaks allowed, no other control \
             character.",
        ))
        .extensions(refusing(PARAGRAPH_CONTROLS))
        .build()
}

/// An optional activity field (extension version, time zone): at most 50 characters.
pub fn optional_activity_text() -> Object {
    line(string_or_null(), MAX_ACTIVITY_FIELD_LEN).build()
}

/// A public key: hexadecimal with an even number of digits, at most 255 characters.
pub fn public_key() -> Object {
    string()
        .min_length(Some(2))
        .max_length(Some(MAX_NAME_LEN - 1))
        .pattern(Some("^(?:[0-9A-Fa-f]{2})+$"))
        .extensions(refusing("^0-9A-Fa-f"))
        .description(Some(
            "Hexadecimal, an even number of digits (the extension sends 130).",
        ))
        .build()
}

/// `encryptedValues`: signed decimals as strings.
pub fn encrypted_values() -> ArrayBuilder {
    let value = string()
        .pattern(Some(format!("^-?[0-9]{{1,{MAX_DIGITS}}}$")))
        .extensions(refusing("^0-9-"))
        .description(Some(
            "A signed decimal integer: an optional `-`, then 1 to 100 digits.",
        ));
    ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(value)
        .max_items(Some(super::MAX_VALUES))
}

/// `rawValues`: non-negative counts.
pub fn raw_values() -> ArrayBuilder {
    let value = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(0));
    ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(value)
        .max_items(Some(super::MAX_VALUES))
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// A time as read: an RFC 3339 time with any offset, or an integer of epoch milliseconds;
/// `null` reads as absent.
pub struct TimeIn;

impl PartialSchema for TimeIn {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                string()
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                    .pattern(Some("^(?:19[7-9][0-9]|[2-9][0-9]{3})-"))
                    .description(Some("RFC 3339, any offset")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(time::earliest_time().timestamp_millis()))
                    .maximum(Some(time::latest_time().timestamp_millis()))
                    .description(Some("milliseconds since 1970-01-01T00:00:00Z")),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "An RFC 3339 time with any offset, or an integer of epoch milliseconds, from \
                 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z; cut to the millisecond. \
                 `null` means absent.",
            ))
            .into()
    }
}

impl ToSchema for TimeIn {
    fn name() -> Cow<'static, str> {
        "TimeInput".into()
    }
}

/// One query of a vocabulary as written: `{"exact": "flu"}` or `{"terms": ["flu", "fever"]}`.
pub struct Query;

impl PartialSchema for Query {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property("exact", string())
                    .required("exact")
                    .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false))),
            )
            .item(
                ObjectBuilder::new()
                    .property("terms", ArrayBuilder::new().items(string()))
                    .required("terms")
                    .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false))),
            )
            .into()
    }
}

impl ToSchema for Query {}

impl PartialSchema for VocabularyOut<'_> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "queries",
                ArrayBuilder::new().items(reference(&Query::name())),
            )
            .required("queries")
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .into()
    }
}

impl ToSchema for VocabularyOut<'_> {
    fn name() -> Cow<'static, str> {
        "Vocabulary".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Query::name().into_owned(), Query::schema()));
    }
}

/// One query of a vocabulary as read: exactly one of `exact` and `terms`.
pub struct QueryIn;

impl PartialSchema for QueryIn {
    fn schema() -> RefOr<Schema> {
        let null = || ObjectBuilder::new().schema_type(Type::Null);
        let terms = || {
            ArrayBuilder::new()
                .items(separated_text(string()))
                .min_items(Some(1))
        };
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property("exact", separated_text(string()))
                    .required("exact")
                    .property("terms", null()),
            )
            .item(
                ObjectBuilder::new()
                    .property("terms", terms())
                    .required("terms")
                    .property("exact", null()),
            )
            .description(Some(
                "Exactly one of `exact` and `terms`; each text not blank, without comma or \
                 line break, at most 255 characters, stored trimmed.",
            ))
            .into()
    }
}

impl ToSchema for QueryIn {
    fn name() -> Cow<'static, str> {
        "QueryInput".into()
    }
}

/// `vocabulary` as read: `{"queries": [QueryInput...]}`, at most 10,000 queries.
pub fn vocabulary_in() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new().property(
                "queries",
                ArrayBuilder::new()
                    .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
                    .items(reference(&QueryIn::name()))
                    .max_items(Some(MAX_QUERIES)),
            ),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}
