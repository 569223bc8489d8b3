//! The one place where failures become HTTP answers: each service error and each rejection maps
//! to one status and the body `{"errors": [...]}`. A 5xx logs its cause and answers with an
//! opaque message.

use std::convert::Infallible;
use std::time::Duration;

use serde::Serialize;
use warp::http::header::{HeaderValue, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use warp::http::StatusCode;
use warp::reject::{MethodNotAllowed, Reject};
use warp::reply::Response;
use warp::Rejection;

use crate::domain::error::FieldError;
use crate::domain::service::ServiceError;

/// Why a request failed, as the API layer knows it.
#[derive(Debug)]
pub enum ApiError {
    /// A service answered with an error.
    Service(ServiceError),
    /// The body is not the JSON expected: the parser's message.
    Body(String),
    /// The body is longer than the limit (bytes).
    TooLarge(u64),
    /// The body did not arrive within the time allowed.
    BodyTimeout(Duration),
    /// The client's address used up its requests for now: retry after this long.
    TooManyRequests(Duration),
    /// Missing or wrong bearer token.
    Unauthorized,
    /// Export asked in a format not offered.
    NotAcceptable,
    /// A path segment or query parameter that does not parse.
    Invalid(Vec<FieldError>),
    /// An unknown resource named by the path (e.g. an unknown job).
    NotFound(String),
}

impl Reject for ApiError {}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError::Service(e)
    }
}

/// A rejection carrying `e`.
pub fn reject(e: impl Into<ApiError>) -> Rejection {
    warp::reject::custom(e.into())
}

/// A rejection for one invalid field (a query parameter or path segment).
pub fn invalid(field: &str, message: impl Into<String>) -> Rejection {
    reject(ApiError::Invalid(vec![FieldError::new(field, message)]))
}

/// Every failure's body.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Errors)]
pub struct ErrorBody<'a> {
    /// `"<field>: <message>"`, or the message alone when it concerns no single field.
    #[schema(min_items = 1)]
    errors: &'a [String],
}

/// `{"errors": [...]}` with `status`.
pub fn errors_response(status: StatusCode, errors: &[String]) -> Response {
    let body = serde_json::to_vec(&ErrorBody { errors }).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = Response::new(body.into());
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn one(status: StatusCode, message: &str) -> Response {
    errors_response(status, &[message.to_string()])
}

const UNAVAILABLE: &str = "service unavailable, try again later";
const INTERNAL: &str = "internal server error";

/// Marks an answer given before the request's body was read to its end: the connection cannot
/// carry another request, and saying so keeps the client from sending its next one there (it
/// would find the connection closed under it).
fn closing(mut res: Response) -> Response {
    res.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    res
}

/// The answer to a service error.
pub fn service_response(e: &ServiceError) -> Response {
    match e {
        ServiceError::NotFound => one(StatusCode::NOT_FOUND, "not found"),
        ServiceError::Invalid(errors) => {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            errors_response(StatusCode::BAD_REQUEST, &errors)
        }
        ServiceError::Conflict(message) => one(StatusCode::CONFLICT, message),
        ServiceError::AlreadySubmitted => one(StatusCode::CONFLICT, "sketch already submitted"),
        ServiceError::WindowClosed => one(
            StatusCode::GONE,
            "the collection window of this sketch has closed",
        ),
        ServiceError::Unavailable(cause) => {
            tracing::error!(error = %cause, "unavailable: answering 503");
            one(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
        }
        ServiceError::Failure(cause) => {
            tracing::error!(error = %cause, "failure: answering 500");
            one(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL)
        }
    }
}

/// The answer to an API error.
pub fn api_response(e: &ApiError) -> Response {
    match e {
        ApiError::Service(e) => service_response(e),
        ApiError::Body(message) => one(StatusCode::BAD_REQUEST, &format!("body: {message}")),
        ApiError::TooLarge(limit) => closing(one(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body: should be at most {limit} bytes"),
        )),
        ApiError::BodyTimeout(limit) => closing(one(
            StatusCode::REQUEST_TIMEOUT,
            &format!("body: not received within {} s", limit.as_secs()),
        )),
        ApiError::TooManyRequests(wait) => {
            // Whole seconds, rounded up: retrying a little late always succeeds.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let secs = secs.max(1);
            let mut res = one(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("too many requests from this address: retry in {secs} s"),
            );
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
            res
        }
        ApiError::Unauthorized => {
            let mut res = one(StatusCode::UNAUTHORIZED, "unauthorized");
            res.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            res
        }
        ApiError::NotAcceptable => one(
            StatusCode::NOT_ACCEPTABLE,
            "export is available as text/csv, application/csv or application/json",
        ),
        ApiError::Invalid(errors) => {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            errors_response(StatusCode::BAD_REQUEST, &errors)
        }
        ApiError::NotFound(message) => one(StatusCode::NOT_FOUND, message),
    }
}

/// Answers every rejection. The order matters: warp combines the rejections of every route
/// tried, so our own errors (raised after a path and method matched) come first, then 413,
/// then 405 (some route matched the path), and 404 last.
pub fn response_for(r: &Rejection) -> Response {
    if let Some(e) = r.find::<ApiError>() {
        api_response(e)
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        closing(one(StatusCode::PAYLOAD_TOO_LARGE, "body: too large"))
    } else if r.find::<MethodNotAllowed>().is_some() {
        one(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else if r.is_not_found() {
        one(StatusCode::NOT_FOUND, "not found")
    } else if r.find::<warp::reject::InvalidQuery>().is_some() {
        one(StatusCode::BAD_REQUEST, "query: invalid query string")
    } else if let Some(e) = r.find::<warp::reject::InvalidHeader>() {
        one(
            StatusCode::BAD_REQUEST,
            &format!("{}: invalid header", e.name()),
        )
    } else if let Some(e) = r.find::<warp::reject::MissingHeader>() {
        one(
            StatusCode::BAD_REQUEST,
            &format!("{}: missing header", e.name()),
        )
    } else {
        tracing::error!(rejection = ?r, "unhandled rejection: answering 500");
        one(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL)
    }
}

/// For `Filter::recover`.
pub async fn recover(r: Rejection) -> Result<Response, Infallible> {
    Ok(response_for(&r))
}
