//! `docs/http-api.md`, generated from the OpenAPI document ([`super::openapi`]).
//!
//! The page is never edited by hand: the test below renders it from the document and fails
//! when the file differs. After changing a route, a schema or a description, rewrite it with
//! `UPDATE_DOCS=1 cargo test --lib api::docs_page`. The error-code tables come from
//! [`ErrorCode`] and [`RejectCode`]; the exhaustive matches in [`error_meaning`] and
//! [`reject_meaning`] stop the build when a code is added without a line here.

use crate::error::ErrorCode;
use crate::tasks::intake::RejectCode;
use serde_json::Value;
use std::fmt::Write as _;

/// Where the page lives, relative to the crate root.
const PAGE: &str = "docs/http-api.md";

/// Hand-written text above the generated reference.
const INTRO: &str = "\
<!-- Generated from the OpenAPI document by src/api/docs_page.rs; do not edit by hand.
     Rewrite it with: UPDATE_DOCS=1 cargo test --lib api::docs_page -->
# HTTP API

The endpoints of `provis serve` and `provis all-in-one` (default port 8000). The same
description is served as OpenAPI 3.1 at `GET /openapi.json`; this page is generated from it.
Live job events (the SSE stream) are described in [events.md](events.md), the artifact
documents that `GET /repo/{repo_id}/{kind}` returns in [artifacts.md](artifacts.md).

## Conventions

- **Authentication.** When the server has `PROVIS_API_TOKEN` (`api_token`) set, every route
  except `GET /health`, `GET /metrics`, `GET /openapi.json`, the web page (`GET /`) and its
  files (`GET /ui/{name}`) needs `Authorization: Bearer <token>` (the scheme in any case).
  A missing or wrong token answers `401 unauthorized` with `WWW-Authenticate: Bearer`.
  Without the setting no route needs a token. Below, *auth: bearer* marks the routes that
  need it.
- **CORS.** Origins listed in `CORS_ORIGINS` (comma-separated) may call the API from a browser.
- **HEAD.** Every `GET` route answers `HEAD` with the same status and headers and no body.
- **Unknown routes.** A path no route has answers `404 not_found`; a method a path does not
  have answers `405 method_not_allowed` with an `Allow` header.
- **Ids** are UUIDs; times are RFC 3339 in UTC; JSON field names are camelCase.

## Errors

Every error answer is the envelope [ErrorBody](#errorbody):

```json
{\"error\": {\"code\": \"job_not_found\", \"message\": \"no job 1b4e…\"}}
```

`code` is stable and meant for programs; `message` is for people (a 5xx says only where to
look: the cause is in the server log). A `400` of `POST /ingest` for a refused archive also
names the `failed` job that records the refusal ([IngestRefused](#ingestrefused)):
`{\"error\": {…}, \"jobId\": \"…\", \"repoId\": \"…\"}`.
";

/// Every [`ErrorCode`] but `Refused` (whose codes are [`REJECT_CODES`]), in status order.
const ERROR_CODES: [ErrorCode; 15] = {
    use ErrorCode::*;
    [
        BadRequest,
        MissingFile,
        InvalidSettings,
        InvalidRepoName,
        Unauthorized,
        NotFound,
        JobNotFound,
        RepoNotFound,
        SnapshotNotFound,
        ArtifactNotFound,
        AssetNotFound,
        MethodNotAllowed,
        UploadTooLarge,
        Internal,
        Unavailable,
    ]
};

/// What an error code means (exhaustive: a new code does not build until it is described
/// here and listed in [`ERROR_CODES`]).
fn error_meaning(code: ErrorCode) -> &'static str {
    use ErrorCode::*;
    match code {
        BadRequest => {
            "A path segment, query parameter or header of the wrong type; a malformed \
             multipart body or a second `file` part."
        }
        MissingFile => "`POST /ingest` without a `file` part.",
        InvalidSettings => "`settings` is not a JSON object.",
        InvalidRepoName => {
            "Declared for unusable repository names; no route answers it at present."
        }
        Unauthorized => "Missing or wrong bearer token.",
        NotFound => {
            "No route has this path, or `GET /repo/{repo_id}/{kind}` names an unknown kind."
        }
        JobNotFound => "No job with this id.",
        RepoNotFound => "No repository with this id.",
        SnapshotNotFound => "No such snapshot of this repository (or none completed yet).",
        ArtifactNotFound => "The snapshot has no artifact of this kind or version.",
        AssetNotFound => "The web page has no file of this name.",
        MethodNotAllowed => "The path exists, the method does not (see `Allow`).",
        UploadTooLarge => "The upload is larger than `MAX_UPLOAD_BYTES`.",
        Internal => "A bug or an unexpected failure; the server log has the cause.",
        Unavailable => {
            "The database, Redis, storage or the server's own disk does not answer; the message names it. Retry later."
        }
        Refused(rule) => reject_meaning(rule),
    }
}

/// Every [`RejectCode`].
const REJECT_CODES: [RejectCode; 19] = {
    use RejectCode::*;
    [
        NotAZip,
        TooManyEntries,
        TooDeep,
        TotalTooLarge,
        RatioExceeded,
        PathTraversal,
        AbsolutePath,
        DriveLetter,
        ReservedName,
        SymlinkEntry,
        DuplicateEntry,
        EncryptedEntry,
        InvalidName,
        SizeMismatch,
        CorruptEntry,
        UnsupportedCompression,
        OverlappingEntries,
        EntryChanged,
        IoError,
    ]
};

/// The rule a zip code stands for (exhaustive, like [`error_meaning`]).
fn reject_meaning(code: RejectCode) -> &'static str {
    use RejectCode::*;
    match code {
        NotAZip => "Bad signature or unreadable central directory (also empty or truncated files).",
        TooManyEntries => "More entries than `ZIP_MAX_ENTRIES`.",
        TooDeep => "A file inside more folders than `ZIP_MAX_DEPTH`.",
        TotalTooLarge => "The inflated files add up to more than `ZIP_MAX_UNCOMPRESSED_BYTES`.",
        RatioExceeded => "One entry inflates beyond `ZIP_MAX_RATIO` × its compressed size.",
        PathTraversal => "A `..` component in a name.",
        AbsolutePath => "A name starting with `/` or `\\`.",
        DriveLetter => "A name starting with a drive letter (`C:`).",
        ReservedName => "A Windows device name (`CON`, `aux.txt`, `COM1` …) in some component.",
        SymlinkEntry => "An entry whose mode says symbolic link.",
        DuplicateEntry => "The same name twice, or a name that is both a file and a folder.",
        EncryptedEntry => "An encrypted entry.",
        InvalidName => "An empty name or one with control characters.",
        SizeMismatch => "An entry inflates to another size than its header declares.",
        CorruptEntry => "A broken deflate stream, a CRC mismatch or an unreadable local header.",
        UnsupportedCompression => "A compression method other than stored or deflate.",
        OverlappingEntries => "Two entries claim the same bytes of the archive.",
        EntryChanged => "An entry changed between inspection and reading (worker side only).",
        IoError => {
            "The upload could not be read: the one transient code, answered \
             `503 service_unavailable` instead of 400."
        }
    }
}

/// The error-code tables.
fn render_codes(out: &mut String) {
    out.push_str("\n| status | code | meaning |\n|---|---|---|\n");
    for code in ERROR_CODES {
        let (status, name) = (code.status().as_u16(), code.as_str());
        let _ = writeln!(out, "| {status} | `{name}` | {} |", error_meaning(code));
    }
    out.push_str(
        "\nThe zip rules (`POST /ingest`, also the `error` of the refused job in `/status` and \
         its terminal `error` event) answer `400` with the rule's own code:\n\n\
         | code | rule |\n|---|---|\n",
    );
    for code in REJECT_CODES {
        let _ = writeln!(out, "| `{}` | {} |", code.as_str(), reject_meaning(code));
    }
}

/// One table cell: no line breaks, no bare `|`.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// The name a `$ref` points at.
fn ref_name(r: &str) -> &str {
    r.rsplit('/').next().unwrap_or(r)
}

/// A schema as a short type: `string (uuid)`, `array of [RepoItem](#repoitem)`, `"a" \| "b"`.
fn type_of(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        let name = ref_name(r);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    if let Some(alts) = s["oneOf"].as_array().or_else(|| s["anyOf"].as_array()) {
        return alts.iter().map(type_of).collect::<Vec<_>>().join(" or ");
    }
    if let Some(values) = s["enum"].as_array() {
        return values
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(" or ");
    }
    let base = match &s["type"] {
        Value::String(t) if t == "array" => format!("array of {}", type_of(&s["items"])),
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(|t| match t {
                "array" => format!("array of {}", type_of(&s["items"])),
                t => t.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_string(),
    };
    match s["format"].as_str() {
        Some(f) => format!("{base} ({f})"),
        None => base,
    }
}

/// The summary without its leading `` `GET /x`: `` (the heading says it).
fn summary(op: &Value) -> String {
    let text = op["summary"].as_str().unwrap_or_default();
    let text = match text.split_once("`: ") {
        Some((head, rest)) if head.starts_with('`') => rest,
        _ => text,
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// One operation: heading, text, parameters, body and answers.
fn render_operation(out: &mut String, method: &str, path: &str, op: &Value, public: bool) {
    let _ = writeln!(out, "\n### {} {path}\n", method.to_uppercase());
    let _ = writeln!(out, "{}", summary(op));
    if let Some(d) = op["description"].as_str() {
        let _ = writeln!(out, "\n{d}");
    }
    let auth = if public { "public" } else { "bearer" };
    let _ = writeln!(out, "\n*auth: {auth}*");
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str(
            "\n| parameter | in | type | required | description |\n|---|---|---|---|---|\n",
        );
        for p in params {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                p["name"].as_str().unwrap_or_default(),
                p["in"].as_str().unwrap_or_default(),
                type_of(&p["schema"]),
                if p["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                cell(p["description"].as_str().unwrap_or_default()),
            );
        }
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = writeln!(
                out,
                "\nRequest body (`{media}`): {}",
                type_of(&body["schema"])
            );
        }
    }
    out.push_str("\n| status | answer | body |\n|---|---|---|\n");
    if let Some(responses) = op["responses"].as_object() {
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(media, m)| format!("`{media}` {}", type_of(&m["schema"])))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let mut answer = cell(r["description"].as_str().unwrap_or_default());
            if let Some(headers) = r["headers"].as_object() {
                for (name, h) in headers {
                    let _ = write!(
                        answer,
                        "; header `{name}`: {}",
                        cell(h["description"].as_str().unwrap_or_default())
                    );
                }
            }
            let _ = writeln!(out, "| {status} | {answer} | {body} |");
        }
    }
}

/// One component schema: its description and a field table (or its values).
fn render_schema(out: &mut String, name: &str, s: &Value) {
    let _ = writeln!(out, "\n### {name}\n");
    if let Some(d) = s["description"].as_str() {
        let _ = writeln!(out, "{}\n", cell(d));
    }
    let Some(props) = s["properties"].as_object() else {
        let _ = writeln!(out, "Type: {}", type_of(s));
        return;
    };
    let required: Vec<&str> = s["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("| field | type | required | description |\n|---|---|---|---|\n");
    for (field, p) in props {
        // `oneOf: [X, null]` keeps its description on the first alternative.
        let desc = p["description"]
            .as_str()
            .or_else(|| p["oneOf"][0]["description"].as_str())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{field}` | {} | {} | {} |",
            type_of(p),
            if required.contains(&field.as_str()) {
                "yes"
            } else {
                "no"
            },
            cell(desc),
        );
    }
}

/// The whole page.
fn render(doc: &Value) -> String {
    let mut out = String::from(INTRO);
    render_codes(&mut out);
    let tags = doc["tags"].as_array().cloned().unwrap_or_default();
    for tag in &tags {
        let tag_name = tag["name"].as_str().unwrap_or_default();
        let mut title = tag["description"].as_str().unwrap_or(tag_name).to_string();
        if let Some(first) = title.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        let _ = writeln!(out, "\n## {title}");
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if op["tags"][0].as_str() != Some(tag_name) {
                    continue;
                }
                // `security: [{}]` opts a route out of the document-wide bearer token.
                let public = op["security"].as_array().is_some_and(|s| {
                    s.iter()
                        .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
                });
                render_operation(&mut out, method, path, op, public);
            }
        }
    }
    out.push_str("\n## Schemas\n\nThe bodies named above, as the document defines them.\n");
    for (name, s) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        render_schema(&mut out, name, s);
    }
    out
}

#[test]
fn http_api_page_is_generated_from_the_openapi_document() {
    let doc: Value =
        serde_json::from_str(&super::openapi().to_json().expect("json")).expect("parses");
    let page = render(&doc);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &page).expect("write the page");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == page,
        "{PAGE} is stale: run `UPDATE_DOCS=1 cargo test --lib api::docs_page` and commit it"
    );
}
