//! The one table that maps errors to an HTTP status and a stable error code.
//!
//! Handlers never pick status codes: they return [`ApiError`] built from an [`ErrorCode`],
//! and every rejection reaches the client as `{"error":{"code","message"}}`
//! (docs/http-api.md#errors). 5xx answers carry a generic message; the cause is logged once, here.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use serde::Serialize;
use uuid::Uuid;

use crate::pipeline::ingest::RejectCode;

macro_rules! error_codes {
    ($( $variant:ident => $code:literal, $status:ident; )*) => {
        /// Stable, machine-readable error codes of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $( #[doc = $code] $variant, )*
            /// An archive or directory refused by an intake rule: the rule's own code
            /// (`not_a_zip`, `path_traversal`, `ratio_exceeded`, …), answered 400.
            Refused(RejectCode),
        }

        impl ErrorCode {
            /// The wire name (`snake_case`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$variant => $code, )*
                    ErrorCode::Refused(rule) => rule.as_str(),
                }
            }

            /// The HTTP status this code is answered with.
            pub fn status(self) -> StatusCode {
                match self {
                    $( ErrorCode::$variant => StatusCode::$status, )*
                    ErrorCode::Refused(_) => StatusCode::BAD_REQUEST,
                }
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
    InvalidSettings => "invalid_settings", BAD_REQUEST;
    InvalidRepoName => "invalid_repo_name", BAD_REQUEST;
    UploadTooLarge => "upload_too_large", PAYLOAD_TOO_LARGE;
    Unauthorized => "unauthorized", UNAUTHORIZED;
    Unavailable => "service_unavailable", SERVICE_UNAVAILABLE;
    Internal => "internal_error", INTERNAL_SERVER_ERROR;
}

/// The cause a module error keeps when it wraps another library's error of no fixed type (a
/// task store's backend, a panicked blocking task), so the chain (`{:#}`, `source()`) survives.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A module's error that knows how the API answers it: its code (and so its status, through
/// [`ErrorCode::status`]) and, for a 503, which dependency is down. `?` in a handler turns it
/// into an [`ApiError`] through this one mapping; a handler only words a message itself where
/// it knows more (which artifact key is missing).
pub trait Coded: std::error::Error {
    /// The code this error is answered with.
    fn code(&self) -> ErrorCode;
    /// What is down (`database`, `storage`, `redis`, `queue`), named in a 503's message.
    fn dependency(&self) -> &'static str {
        "a dependency"
    }
}

impl<E: Coded> From<E> for ApiError {
    fn from(e: E) -> Self {
        match e.code() {
            ErrorCode::Unavailable => ApiError::unavailable(e.dependency(), &e),
            ErrorCode::Internal => ApiError::internal(&e),
            code => ApiError::new(code, e.to_string()),
        }
    }
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The code, which also fixes the status.
    pub code: ErrorCode,
    /// A message for people; for 5xx a generic one.
    pub message: String,
    /// The `failed` job (and its repository) that records a refused archive, so the client
    /// can find it in `/status` and the history.
    pub job: Option<(Uuid, Uuid)>,
}

impl ApiError {
    /// An error with a message for the client.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            job: None,
        }
    }

    /// An archive refused by intake rule `rule`, recorded by job `job_id` of `repo_id`.
    pub fn refused(
        rule: RejectCode,
        message: impl Into<String>,
        job_id: Uuid,
        repo_id: Uuid,
    ) -> Self {
        Self {
            job: Some((job_id, repo_id)),
            ..Self::new(ErrorCode::Refused(rule), message)
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
        let error = ErrorDetail::new(self.code.as_str(), &self.message);
        let mut answer = HttpResponse::build(self.status_code());
        match self.job {
            Some((job_id, repo_id)) => answer.json(IngestRefused {
                error,
                job_id: Some(job_id),
                repo_id: Some(repo_id),
            }),
            None => answer.json(ErrorBody { error }),
        }
    }
}

/// `400` of `POST /ingest`: the error envelope, plus the job that records a refused archive
/// (absent when the request itself was malformed: no `file`, not a zip, bad `settings`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestRefused {
    /// The rule that was broken (`not_a_zip`, `path_traversal`, `ratio_exceeded`, …).
    pub error: ErrorDetail,
    /// The `failed` job that records the refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Uuid>,
    /// Its repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_id: Option<Uuid>,
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
        let refused = ErrorCode::Refused(RejectCode::NotAZip);
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(refused.as_str(), "not_a_zip");
        assert_eq!(ErrorCode::JobNotFound.as_str(), "job_not_found");
    }

    #[test]
    fn module_errors_answer_with_their_own_code() {
        use crate::artifacts::ArtifactError;
        let missing = ApiError::from(ArtifactError::NotFound { key: "k".into() });
        assert_eq!(missing.code, ErrorCode::ArtifactNotFound);
        let down = ApiError::from(ArtifactError::Backend {
            message: "connection refused".into(),
            status: None,
            retryable: true,
        });
        assert_eq!(down.code, ErrorCode::Unavailable);
        assert_eq!(down.message, "storage is unavailable");
        let store = crate::queue::QueueError::store("no task 7");
        assert_eq!(ApiError::from(store).message, "queue is unavailable");
        let bug = ApiError::from(ArtifactError::Config("no bucket".into()));
        assert_eq!(bug.code.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
