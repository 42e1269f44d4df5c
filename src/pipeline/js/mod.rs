//! JavaScript and TypeScript: parsing into [`FileRecord`]s and Node/TypeScript import resolution.
//!
//! - [`parse_js`] turns the bytes of one `.js .mjs .cjs .jsx .ts .mts .cts .tsx` (or `.d.ts`)
//!   file into its record (imports with lines, exports, functions, classes, routes, hints) in one
//!   pass of `oxc_parser` plus one walk of the tree. It never fails: binary content is skipped
//!   with a reason, invalid UTF-8 and syntax errors become warnings next to whatever could be read.
//! - [`JsResolver`] resolves those imports against an in-memory view of the snapshot
//!   ([`SnapshotFiles`]) with `oxc_resolver`, following the edge policy of
//!   docs/pipeline.md#javascript-and-typescript; [`resolve_all`] completes every JS/TS import of a
//!   batch of records.
//!
//! `oxc_parser` is a recursive-descent parser with no depth limit, so deep nesting costs stack
//! (1–1.7 KB per nested bracket). Parsing therefore runs on threads with
//! [`PARSE_STACK_BYTES`] of stack ([`parse_pool`]); files nested deeper than
//! [`MAX_NESTING`] brackets are not parsed at all (warning `too_deeply_nested`).

mod compiled;
mod expr;
mod extract;
mod jsonc;
mod kept;
mod nest;
mod parse;
mod resolve;
mod routes;
mod vfs;
mod visit;
mod wiring;
mod workspace;

pub use kept::{apply_kept, environment, write_kept, KeptResolutions, RESOLVE_VERSION};
pub use parse::{
    assume_parse_stack, init_parse_pool, js_language, parse_js, parse_js_batch, parse_pool,
    MAX_NESTING, PARSE_STACK_BYTES,
};
pub use resolve::{
    resolve_all, resolve_at, JsResolver, Resolution, UNRESOLVED_REASONS, WARN_INVALID_MANIFEST,
};
pub use vfs::{MemorySnapshot, SnapshotFiles};

/// Errors of the JS/TS module. Parsing itself never fails (problems become warnings on the
/// record); these only describe the machinery around it, and are logged rather than returned.
#[derive(Debug, thiserror::Error)]
pub enum JsError {
    /// The big-stack parser thread pool could not be built.
    #[error("cannot build the parser thread pool")]
    Pool(#[source] rayon::ThreadPoolBuildError),
    /// A big-stack thread could not be spawned.
    #[error("cannot spawn a parser thread")]
    Spawn(#[source] std::io::Error),
}
