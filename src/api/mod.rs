//! The actix-web HTTP layer: routes, middleware and the SSE endpoint.

pub mod middleware;
pub mod upload;
