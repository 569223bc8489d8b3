//! The OpenAPI 3.1 description of the public, private and admin interfaces, generated from the
//! routes' own `#[utoipa::path]` attributes and the DTOs' `ToSchema` derives, served at
//! `GET /api/openapi.json` and kept in `docs/openapi.json` (a test fails when either drifts).

use std::borrow::Cow;
use std::sync::LazyLock;

use serde_json::Value;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToResponse, ToSchema};

use super::dto::schema::{QueryIn, TimeIn};
use super::dto::{AggregationOut, ExportRowOut, ResultList};
use super::rejection::ErrorBody;
use crate::domain::service::jobs::JobKind;

/// The description as JSON, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(build);
    &DOCUMENT
}

/// The description as written to `docs/openapi.json` and served: pretty, ending with a newline.
pub fn document_text() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        let mut text = serde_json::to_string_pretty(document()).unwrap_or_default();
        text.push('\n');
        text
    });
    &TEXT
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pdd-server",
        description = "The HTTP interfaces of Private Data Donor's server: the public API (the \
            browser extension: no token, CORS), the private API (the analysts' dashboard: bearer \
            token) and the admin interface (operators: served on its own port, `-admin.port`, \
            default :9990, never to be exposed). docs/api.md is the prose contract.\n\n\
            Every failure answers `{\"errors\": [\"<field>: <message>\", ...]}`. A known path \
            asked with a method it does not allow answers 405 with an `Allow` header; OPTIONS \
            on a public path answers the CORS preflight (200, empty body); an unknown path \
            answers 404. Those 404 and 405 answers are counted per client address: beyond 120 \
            at once and 60 a minute they are 429 with `Retry-After`. Any operation may answer \
            500 (`internal server error`, the cause logged, never sent). Answers over 1 KiB are \
            gzip-compressed when `Accept-Encoding` allows it.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "public", description = "The browser extension's API: no token; CORS on every answer."),
        (name = "private", description = "The dashboard's API: `Authorization: Bearer <token>` or `access_token=<token>`."),
        (name = "admin", description = "Health, metrics and jobs, on the admin port (`-admin.port`), without authentication."),
    ),
    paths(
        super::public::register,
        super::public::update_client,
        super::public::delete_client,
        super::public::ping_get,
        super::public::ping_post,
        super::public::submit,
        super::public::openapi_json,
        super::private::campaigns::list_campaigns,
        super::private::campaigns::create_campaign,
        super::private::campaigns::get_campaign,
        super::private::campaigns::update_campaign,
        super::private::campaigns::delete_campaign,
        super::private::campaigns::results,
        super::private::campaigns::result,
        super::private::clients::list_clients,
        super::private::clients::get_client,
        super::private::clients::client_activity,
        super::private::clients::activity,
        super::private::stats,
        crate::adapters::admin::health,
        crate::adapters::admin::ping,
        crate::adapters::admin::metrics_json,
        crate::adapters::admin::prometheus,
        crate::adapters::admin::server_info,
        crate::adapters::admin::run_job,
        crate::adapters::admin::console::overview_page,
        crate::adapters::admin::console::stylesheet,
        crate::adapters::admin::console::logging_page,
        crate::adapters::admin::console::set_level,
        crate::adapters::admin::console::metrics_page,
        crate::adapters::admin::console::campaigns_page,
        crate::adapters::admin::console::campaign_page,
        crate::adapters::admin::console::clients_page,
        crate::adapters::admin::console::jobs_page,
    ),
    components(
        schemas(
            QueryIn, TimeIn, ErrorBody, ResultsJson, ResultList, AggregationOut, ExportRowOut,
            JobReportOut, JobName, MetricsOut,
        ),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            MethodNotAllowed,
            NotAcceptable,
            RequestTimeout,
            Conflict,
            Gone,
            PayloadTooLarge,
            TooManyRequests,
            InternalError,
            Unavailable,
        ),
    ),
    modifiers(&SecuritySchemes),
)]
struct ApiDoc;

/// The two ways of giving the private API's token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The access token (`-api.access_token`)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "access_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "access_token",
                "The access token as a query parameter.",
            ))),
        );
    }
}

/// utoipa's document, completed where its model has no words: the refused characters of the
/// hand-written schemas become `not` patterns, the headers that are always sent are marked
/// required, and every operation may answer 500.
fn build() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    refusals_to_not(&mut doc);
    if let Some(responses) = doc
        .pointer_mut("/components/responses")
        .and_then(Value::as_object_mut)
    {
        for response in responses.values_mut() {
            if let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) {
                for header in headers.values_mut() {
                    header["required"] = Value::Bool(true);
                }
            }
        }
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                if let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(Value::as_object_mut)
                {
                    responses
                        .entry("500")
                        .or_insert_with(|| reference("InternalError"));
                }
            }
        }
    }
    doc
}

/// Turns each `x-refuse` extension of the hand-written schemas into a `not` of its pattern.
fn refusals_to_not(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(class) = map.remove(super::dto::schema::REFUSE) {
                // Typed, so that `null` (where allowed) does not match the refused pattern.
                let refused = serde_json::json!({ "type": "string", "pattern": class });
                map.insert("not".into(), refused);
            }
            map.values_mut().for_each(refusals_to_not);
        }
        Value::Array(items) => items.iter_mut().for_each(refusals_to_not),
        _ => {}
    }
}

fn reference(response: &str) -> Value {
    serde_json::json!({ "$ref": format!("#/components/responses/{response}") })
}

// ---- the error answers, one reusable response per status

fn errors(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build(),
    )
}

fn header(description: &str, schema: Type) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(schema))
        .description(Some(description))
        .build()
}

macro_rules! error_response {
    ($name:ident, $description:expr) => {
        error_response!($name, $description, |r| r);
    };
    ($name:ident, $description:expr, $extra:expr) => {
        #[doc = $description]
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                let extra: fn(ResponseBuilder) -> ResponseBuilder = $extra;
                (
                    stringify!($name),
                    extra(errors($description)).build().into(),
                )
            }
        }
    };
}

error_response!(
    BadRequest,
    "Invalid input: the field values (all reported at once), a body that is not the JSON \
     expected (`body: ...`), a body nested deeper than 32 levels, or a bad query parameter or \
     path segment."
);
error_response!(Unauthorized, "The access token is missing or wrong.", |r| r
    .header("WWW-Authenticate", header("Always `Bearer`.", Type::String)));
error_response!(
    Forbidden,
    "A POST from a page of another origin (`Origin` or `Sec-Fetch-Site` say so): refused."
);
error_response!(NotFound, "No resource has the name given in the path.");
error_response!(
    MethodNotAllowed,
    "The path exists, not with this method.",
    |r| r.header(
        "Allow",
        header("The methods the path allows.", Type::String)
    )
);
error_response!(
    NotAcceptable,
    "The export was asked in a format not offered (`Accept`)."
);
error_response!(
    RequestTimeout,
    "The body did not arrive within `-http.body_timeout`; the connection is closed."
);
error_response!(Conflict, "The request conflicts with the current state.");
error_response!(Gone, "The collection window of this sketch has closed.");
error_response!(
    PayloadTooLarge,
    "The body is larger than the limit of its route (2 MiB public, 8 MiB private); the \
     connection is closed."
);
error_response!(
    TooManyRequests,
    "Too many registrations or pings from this address.",
    |r| r.header(
        "Retry-After",
        header("Whole seconds to wait before retrying.", Type::Integer)
    )
);
error_response!(
    InternalError,
    "A bug or a storage fault; the cause is logged, never sent."
);
error_response!(
    Unavailable,
    "The storage does not answer (database down or still starting)."
);

// ---- shapes written by hand

/// The JSON answers of `…/results` and `…/results/{day}`: the plain view, or the export rows
/// with `?export=1`.
pub struct ResultsJson;

impl PartialSchema for ResultsJson {
    fn schema() -> RefOr<Schema> {
        let reference = |name: &str| RefOr::Ref(Ref::from_schema_name(name));
        OneOfBuilder::new()
            .item(reference("ResultList"))
            .item(reference("Aggregation"))
            .item(ArrayBuilder::new().items(reference("ExportRow")))
            .into()
    }
}

impl ToSchema for ResultsJson {
    fn name() -> Cow<'static, str> {
        "ResultsAnswer".into()
    }
}

/// What a job run did: counters by name, `failed` campaigns, `interrupted`.
pub struct JobReportOut;

impl PartialSchema for JobReportOut {
    fn schema() -> RefOr<Schema> {
        let counter = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0));
        ObjectBuilder::new()
            .description(Some(
                "Counters by name (aggregate-sketches: aggregated; create-sketches: created, \
                 groups, skipped, lone; prune-clients: pruned; collect-garbage: sketches, \
                 orphans, activity), plus `failed` (the campaigns it failed for) and \
                 `interrupted` (stopped by shutdown) when they apply.",
            ))
            .property(
                "failed",
                ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
            )
            .property(
                "interrupted",
                ObjectBuilder::new().schema_type(Type::Boolean),
            )
            .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
                counter.build(),
            )))))
            .into()
    }
}

impl ToSchema for JobReportOut {
    fn name() -> Cow<'static, str> {
        "JobReport".into()
    }
}

/// `/admin/metrics.json`: metric name with its labels → value.
pub struct MetricsOut;

impl PartialSchema for MetricsOut {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
                ObjectBuilder::new().schema_type(Type::Number).build(),
            )))))
            .into()
    }
}

impl ToSchema for MetricsOut {
    fn name() -> Cow<'static, str> {
        "Metrics".into()
    }
}

/// The `{job}` of `POST /admin/jobs/{job}`: the names of the jobs.
pub struct JobName;

impl PartialSchema for JobName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(JobKind::ALL.iter().map(|j| j.name())))
            .into()
    }
}

impl ToSchema for JobName {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::adapters::admin::ADMIN_ROUTES;
    use crate::adapters::http::routes::API_ROUTES;

    /// (method, path) of every operation the description names.
    fn described() -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in document()["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn the_description_names_every_route_of_both_ports_and_no_other() {
        let routes: BTreeSet<(String, String)> = API_ROUTES
            .iter()
            .chain(ADMIN_ROUTES)
            .map(|(method, pattern, _)| (method.to_string(), pattern.to_string()))
            .collect();
        let described = described();
        let undescribed: Vec<_> = routes.difference(&described).collect();
        let unrouted: Vec<_> = described.difference(&routes).collect();
        assert!(
            undescribed.is_empty() && unrouted.is_empty(),
            "routes without a description: {undescribed:?}; described but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn private_routes_need_the_token_and_public_and_admin_ones_do_not() {
        let doc = document();
        for (method, pattern, public) in API_ROUTES {
            let op = &doc["paths"][pattern][method.to_lowercase()];
            let private = !public;
            assert_eq!(op["security"].is_array(), private, "{method} {pattern}");
            assert_eq!(
                op["responses"]["401"].is_object(),
                private,
                "{method} {pattern}"
            );
            let tag = if *public { "public" } else { "private" };
            assert_eq!(op["tags"][0], tag, "{method} {pattern}");
        }
        for (method, pattern, _) in ADMIN_ROUTES {
            let op = &doc["paths"][pattern][method.to_lowercase()];
            assert!(op["security"].is_null(), "{method} {pattern}");
            assert_eq!(op["tags"][0], "admin", "{method} {pattern}");
        }
    }

    #[test]
    fn every_reference_resolves_and_every_operation_may_answer_500() {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = document();
        let mut found = Vec::new();
        refs(doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, path) in described() {
            let op = &doc["paths"][&path][method.to_lowercase()];
            assert!(op["responses"]["500"].is_object(), "{method} {path}");
        }
    }

    #[test]
    fn headers_sent_with_401_405_and_429_are_required() {
        let doc = document();
        for (response, header) in [
            ("Unauthorized", "WWW-Authenticate"),
            ("MethodNotAllowed", "Allow"),
            ("TooManyRequests", "Retry-After"),
        ] {
            let h = &doc["components"]["responses"][response]["headers"][header];
            assert_eq!(h["required"], true, "{response} {header}");
        }
    }
}
