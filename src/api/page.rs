//! `GET /` and `GET /ui/{name}`: the embedded web page ([`crate::web`]).
//!
//! Both are public even when `PROVIS_API_TOKEN` is set: they hold no data (a browser cannot
//! send a bearer token when it opens a URL), and the page sends the token the user gives it
//! with every API call it makes.

use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::web::{self, Asset};
use actix_web::{get, web as aw, HttpResponse};

fn answer(a: &Asset) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(a.content_type)
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(a.body)
}

/// `GET /`: the web page (upload a zip, watch its job, explore repositories and snapshots).
#[utoipa::path(
    tag = "web",
    security(()),
    responses((status = 200, description = "The single-page app", content_type = "text/html", body = String)),
)]
#[get("/")]
pub async fn index() -> HttpResponse {
    answer(&web::INDEX)
}

/// `GET /ui/{name}`: a script, style sheet or image of the web page.
#[utoipa::path(
    tag = "web",
    security(()),
    params(("name" = String, Path, description = "The file, e.g. `app.js`")),
    responses(
        (status = 200, description = "The file", content_type = "text/javascript", body = String),
        (status = 404, description = "The page has no such file (`asset_not_found`)", body = ErrorBody),
    ),
)]
#[get("/ui/{name}")]
pub async fn ui_asset(name: aw::Path<String>) -> ApiResult<HttpResponse> {
    web::asset(&name).map(answer).ok_or_else(|| {
        ApiError::new(
            ErrorCode::AssetNotFound,
            format!("the page has no file {:?}", name.as_str()),
        )
    })
}
