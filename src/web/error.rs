//! Errors of the web layer, mapped to responses in one place. API errors use authentik's
//! (Django REST framework's) shapes: `{"detail": "..."}` or `{"field": ["message"]}`. A 5xx
//! body is opaque with a request id; the cause goes to the log.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::flow::FlowError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// Field name → messages; `non_field_errors` for the whole object.
    #[error("invalid input")]
    Invalid(BTreeMap<String, Vec<String>>),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(BTreeMap::from([(field.to_owned(), vec![message.into()])]))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(what) => {
                ApiError::field(&what, format!("An object with this {what} already exists."))
            }
            StoreError::Busy | StoreError::Backend(_) => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<FlowError> for ApiError {
    fn from(error: FlowError) -> ApiError {
        match error {
            FlowError::FlowNotFound => ApiError::NotFound,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Invalid(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            ApiError::Unauthenticated => {
                json!({"detail": "Authentication credentials were not provided."})
            }
            ApiError::Forbidden => {
                json!({"detail": "You do not have permission to perform this action."})
            }
            ApiError::NotFound => json!({"detail": "Not found."}),
            ApiError::Invalid(fields) => json!(fields),
            ApiError::BadRequest(detail) => json!({"detail": detail}),
            ApiError::Internal(cause) => {
                let request_id = uuid::Uuid::new_v4();
                tracing::error!(%request_id, %cause, "internal error");
                json!({"detail": "Internal server error.", "request_id": request_id})
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthenticated) {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"gatehouse\""));
        }
        response.json(body)
    }
}

/// Errors of HTML pages: a short page, never a stack trace.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> PageError {
        PageError::Internal(error.to_string())
    }
}

impl From<FlowError> for PageError {
    fn from(error: FlowError) -> PageError {
        match error {
            FlowError::FlowNotFound => PageError::NotFound,
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl From<minijinja::Error> for PageError {
    fn from(error: minijinja::Error) -> PageError {
        PageError::Internal(format!("template: {error:#}"))
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            PageError::NotFound => "This page does not exist.".to_owned(),
            PageError::BadRequest(why) => why.clone(),
            PageError::Internal(cause) => {
                let request_id = uuid::Uuid::new_v4();
                tracing::error!(%request_id, %cause, "internal error");
                format!("Something went wrong on our side (request id {request_id}).")
            }
        };
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(simple_page(&message))
    }
}

/// A minimal page that needs no template (used when templates themselves fail).
fn simple_page(message: &str) -> String {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>gatehouse</title>\
         <link rel=\"stylesheet\" href=\"/static/gatehouse.css\"></head><body><main class=\"card\">\
         <p class=\"alert\" role=\"alert\">{escaped}</p><p><a href=\"/\">Back to the start</a></p>\
         </main></body></html>"
    )
}
