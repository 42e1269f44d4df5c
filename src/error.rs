//! The one table that maps errors to an HTTP status and a stable error code.
//!
//! Handlers never pick status codes: they return [`ApiError`] built from an [`ErrorCode`],
//! and every rejection reaches the client as `{"error":{"code","message"}}` (DESIGN §7).
//! 5xx answers carry a generic message; the cause is logged once, here.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use serde::Serialize;

macro_rules! error_codes {
    ($( $variant:ident => $code:literal, $status:ident; )*) => {
        /// Stable, machine-readable error codes of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $( #[doc = $code] $variant, )* }

        impl ErrorCode {
            /// The wire name (`snake_case`).
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }

            /// The HTTP status this code is answered with.
            pub fn status(self) -> StatusCode {
                match self { $( ErrorCode::$variant => StatusCode::$status, )* }
            }
        }
    };
}

error_codes! {
    NotFound => "not_found", NOT_FOUND;
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED;
    JobNotFound => "job_not_found", NOT_FOUND;
    RepoNotFound => "repo_not_found", NOT_FOUND;
    SnapshotNotFound => "snapshot_not_found", NOT_FOUND;
    ArtifactNotFound => "artifact_not_found", NOT_FOUND;
    AssetNotFound => "asset_not_found", NOT_FOUND;
    BadRequest => "bad_request", BAD_REQUEST;
    MissingFile => "missing_file", BAD_REQUEST;
    NotAZip => "not_a_zip", BAD_REQUEST;
    InvalidSettings => "invalid_settings", BAD_REQUEST;
    InvalidRepoName => "invalid_repo_name", BAD_REQUEST;
    UploadTooLarge => "upload_too_large", PAYLOAD_TOO_LARGE;
    Unauthorized => "unauthorized", UNAUTHORIZED;
    Unavailable => "service_unavailable", SERVICE_UNAVAILABLE;
    Internal => "internal_error", INTERNAL_SERVER_ERROR;
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The code, which also fixes the status.
    pub code: ErrorCode,
    /// A message for people; for 5xx a generic one.
    pub message: String,
}

impl ApiError {
    /// An error with a message for the client.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A server-side failure: logs the cause once and answers a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(ErrorCode::Internal, "internal error; see the server log")
    }

    /// A dependency is down: logs the cause and answers 503.
    pub fn unavailable(what: &str, cause: impl std::fmt::Display) -> Self {
        tracing::warn!(dependency = what, error = %cause, "dependency unavailable");
        Self::new(ErrorCode::Unavailable, format!("{what} is unavailable"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// The error envelope every rejection is answered with: `{"error":{"code","message"}}`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of the error envelope.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code (`job_not_found`, `upload_too_large`, a zip rule's code …).
    #[schema(example = "job_not_found")]
    pub code: String,
    /// What happened, for people; 5xx answers say only where to look.
    pub message: String,
}

impl ErrorDetail {
    /// The detail of a code and message.
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_string(),
            message: message.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error: ErrorDetail::new(self.code.as_str(), &self.message),
        })
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape_and_status() {
        let e = ApiError::new(ErrorCode::UploadTooLarge, "over 10 bytes");
        let resp = e.error_response();
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(ErrorCode::NotAZip.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::JobNotFound.as_str(), "job_not_found");
    }
}
