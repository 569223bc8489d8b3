//! The OpenAPI schemas the derives cannot give: shapes whose serde code is written by hand (the
//! vocabulary, times read in two forms, job reports) and the rules of single fields written as
//! JSON Schema (not blank, no separator, hexadecimal keys, decimal values). The rest of the
//! description is derived from the DTOs themselves (`ToSchema`).

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::VocabularyOut;
use crate::domain::campaign::{MAX_NAME_LEN, MAX_QUERIES};
use crate::domain::client::MAX_ACTIVITY_FIELD_LEN;
use crate::domain::crypto::MAX_DIGITS;

/// The characters Rust's `str::trim` removes (Unicode White_Space), spelled out: `\s` differs
/// between regex dialects (ECMA counts U+FEFF, Python U+001C to U+001F), and a blank check must
/// mean what the server means.
const WHITE_SPACE: &str = r"\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// Some character that is not white space.
pub fn not_blank_pattern() -> String {
    format!("[^{WHITE_SPACE}]")
}

/// Not blank, no comma, no line break (the separators of the legacy MySQL columns).
pub fn separated_pattern() -> String {
    format!(r"^[^,\r\n]*[^,{WHITE_SPACE}][^,\r\n]*$")
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A required text: not blank, at most 255 characters.
pub fn name_text() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_LEN))
        .pattern(Some(not_blank_pattern()))
        .build()
}

/// An optional text of at most 255 characters, or `null`.
pub fn optional_name_text() -> Object {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
            Type::String,
            Type::Null,
        ]))
        .max_length(Some(MAX_NAME_LEN))
        .build()
}

/// An optional email or vocabulary text: not blank, no comma, no line break, at most 255.
fn separated_text() -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_LEN))
        .pattern(Some(separated_pattern()))
}

pub fn optional_separated_text() -> Object {
    separated_text()
        .schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
            Type::String,
            Type::Null,
        ]))
        .build()
}

/// An optional activity field (extension version, time zone): at most 50 characters.
pub fn optional_activity_text() -> Object {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
            Type::String,
            Type::Null,
        ]))
        .max_length(Some(MAX_ACTIVITY_FIELD_LEN))
        .build()
}

/// A public key: hexadecimal with an even number of digits, at most 255 characters.
pub fn public_key() -> Object {
    string()
        .min_length(Some(2))
        .max_length(Some(MAX_NAME_LEN - 1))
        .pattern(Some("^(?:[0-9A-Fa-f]{2})+$"))
        .description(Some(
            "Hexadecimal, an even number of digits (the extension sends 130).",
        ))
        .build()
}

/// `encryptedValues`: signed decimals as strings.
pub fn encrypted_values() -> ArrayBuilder {
    let value = string()
        .pattern(Some(format!("^-?[0-9]{{1,{MAX_DIGITS}}}$")))
        .description(Some(
            "A signed decimal integer: an optional `-`, then 1 to 100 digits.",
        ));
    ArrayBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
            Type::Array,
            Type::Null,
        ]))
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
        .schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
            Type::Array,
            Type::Null,
        ]))
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
                    .description(Some(
                        "RFC 3339, any offset; in UTC a year from 0000 to 9999",
                    )),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(super::MIN_TIME_MILLIS))
                    .maximum(Some(super::MAX_TIME_MILLIS))
                    .description(Some("milliseconds since 1970-01-01T00:00:00Z")),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "An RFC 3339 time with any offset, or an integer of epoch milliseconds; cut to \
                 the millisecond. `null` means absent.",
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
                .items(separated_text())
                .min_items(Some(1))
        };
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property("exact", separated_text())
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
                    .schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
                        Type::Array,
                        Type::Null,
                    ]))
                    .items(reference(&QueryIn::name()))
                    .max_items(Some(MAX_QUERIES)),
            ),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}
