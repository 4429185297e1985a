//! The one error shape of the API, and the JSON body extractor that produces it for bodies
//! that are malformed, of the wrong shape, or carry fields we do not know.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::storage::StoreError;

/// What is wrong with one field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field's path in the body, such as `renewal_date` or `signals[2].kind`.
    pub field: String,
    pub problem: String,
}

/// Every error the API answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// unauthorized, validation, malformed_json, not_found, method_not_allowed, conflict,
    /// too_large or internal.
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub fields: Vec<FieldProblem>,
}

#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    Validation(Vec<FieldProblem>),
    Malformed(String),
    NotFound(String),
    /// The route exists but not with this method; axum adds the `Allow` header.
    MethodNotAllowed(axum::http::Method),
    Conflict(String),
    TooLarge,
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn field(field: impl Into<String>, problem: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldProblem {
            field: field.into(),
            problem: problem.into(),
        }])
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Field { field, problem } => ApiError::field(field, problem),
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::Duplicate(m) => ApiError::Conflict(m),
            StoreError::Invalid(_) | StoreError::Ambiguous { .. } => {
                ApiError::field("body", e.to_string())
            }
            StoreError::Database(_) | StoreError::Corrupt(_) => ApiError::Internal(e.into()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<StoreError>() {
            Ok(store) => store.into(),
            Err(e) => ApiError::Internal(e),
        }
    }
}

fn body(error: &str, message: Option<String>, fields: Vec<FieldProblem>) -> ErrorBody {
    ErrorBody {
        error: error.into(),
        message,
        fields,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, b) = match self {
            // Says nothing about why: a prober learns nothing from the difference.
            ApiError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, body("unauthorized", None, vec![]))
            }
            ApiError::Validation(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                body("validation", None, fields),
            ),
            ApiError::Malformed(m) => (
                StatusCode::BAD_REQUEST,
                body("malformed_json", Some(m), vec![]),
            ),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, body("not_found", Some(m), vec![])),
            ApiError::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                body(
                    "method_not_allowed",
                    Some(format!(
                        "this route does not take {m}; the Allow header lists the methods it \
                         takes, and /api/openapi.json describes them"
                    )),
                    vec![],
                ),
            ),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, body("conflict", Some(m), vec![])),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                body(
                    "too_large",
                    Some(format!(
                        "the body is larger than {} KiB; send fewer items per request",
                        super::BODY_LIMIT / 1024
                    )),
                    vec![],
                ),
            ),
            ApiError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "an API request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    body(
                        "internal",
                        Some("something went wrong on our side; try again later".into()),
                        vec![],
                    ),
                )
            }
        };
        let mut response = (status, Json(b)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A JSON body read with our errors: 400 for JSON that does not parse, 422 naming the field
/// for a value of the wrong type or an unknown field, 413 over the size limit.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::Malformed("the body could not be read".into())
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| shape_error("", e))?;
        de.end().map_err(|e| ApiError::Malformed(e.to_string()))?;
        Ok(ApiJson(value))
    }
}

/// Names the field a body's value was refused for; `prefix` is where in a batch it sits.
pub fn shape_error(prefix: &str, e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = match (prefix, e.path().to_string()) {
        ("", p) => p,
        (pre, p) if p == "." => pre.to_string(),
        (pre, p) => format!("{pre}.{p}"),
    };
    let inner = e.into_inner();
    if !inner.is_data() {
        return ApiError::Malformed(format!("the body is not valid JSON: {inner}"));
    }
    let text = inner.to_string();
    // The path already ends with an unknown field's own name.
    let field = match path.as_str() {
        "" | "." => "body".to_string(),
        _ => path,
    };
    let problem = match text.find(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    ApiError::field(field, problem)
}
