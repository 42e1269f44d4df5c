//! Python: parsing into a [`FileRecord`], import resolution and Django URL composition.
//!
//! [`parse_py`] runs `ruff_python_parser` once in error-recovering mode and walks the tree once
//! (statements only, with an explicit stack; expressions are inspected shallowly where a fact
//! needs them: decorators, `__all__`, `urlpatterns`, router constructors). A file with syntax
//! errors still yields everything the parser could recover plus one `parse_error` warning;
//! invalid UTF-8 is decoded lossily with an `invalid_utf8` warning. The tree is then freed by
//! `dismantle` without recursion, so hostile nesting (100,000 brackets, a 50 MB `1+1+…`
//! line) cannot overflow the stack of the calling thread.
//!
//! Resolution lives in [`resolve`] ([`PyResolver`], [`resolve_all_py`]); routes and the
//! mounts that compose them (`include_router`, `register_blueprint`, Django `include()`) are
//! read in `routes` and composed across files by [`crate::pipeline::routing`].

mod dismantle;
mod extract;
pub mod resolve;
mod routes;
mod stdlib;

pub use resolve::{resolve_all_py, PyResolver, PyTarget};
pub(crate) use routes::FORMAT_SUFFIX;
pub use stdlib::is_stdlib_module;

use crate::pipeline::model::{FileRecord, FileWarning, Language};
use ruff_python_ast::{Mod, PySourceType};
use ruff_python_parser::{parse_unchecked, ParseOptions};
use ruff_text_size::TextSize;

/// Warning code: the file has syntax errors; the record holds what the parser recovered.
pub const WARN_PARSE_ERROR: &str = "parse_error";
/// Warning code: the file is not valid UTF-8; it was decoded with replacement characters.
pub const WARN_INVALID_UTF8: &str = "invalid_utf8";
/// Skip reason: the file is larger than the parser can address (4 GiB).
pub const SKIP_TOO_LARGE: &str = "too_large";

/// Parses one Python file (`.py` or `.pyi`) into its [`FileRecord`].
///
/// Never fails and never returns an empty record for readable input: syntax errors and
/// invalid UTF-8 become [`FileRecord::warnings`]; binary content (a NUL byte near the start)
/// is skipped with reason `binary`, as for JS/TS. `path` is the repo-relative path; its
/// extension picks stub mode for `.pyi`.
pub fn parse_py(path: &str, bytes: &[u8]) -> FileRecord {
    let is_stub = path.ends_with(".pyi");
    let ext = if is_stub { "pyi" } else { "py" };
    let mut record = FileRecord::new(path, Language::Py, ext, bytes);
    if u32::try_from(bytes.len()).is_err() {
        // The parser addresses source with 32-bit offsets; larger input cannot be parsed.
        record.skipped = true;
        record.skip_reason = Some(SKIP_TOO_LARGE.to_string());
        return record;
    }
    if crate::pipeline::model::looks_binary(bytes) {
        record.skipped = true;
        record.skip_reason = Some(crate::pipeline::model::SKIP_BINARY.to_string());
        return record;
    }
    let source = String::from_utf8_lossy(bytes);
    if matches!(source, std::borrow::Cow::Owned(_)) {
        record.warnings.push(FileWarning {
            code: WARN_INVALID_UTF8.to_string(),
            message: "file is not valid UTF-8; decoded with replacement characters".to_string(),
        });
    }
    let source_type = if is_stub {
        PySourceType::Stub
    } else {
        PySourceType::Python
    };
    let parsed = parse_unchecked(&source, ParseOptions::from(source_type));
    let lines = LineIndex::new(&source);
    if let Some(first) = parsed.errors().first() {
        let count = parsed.errors().len();
        let line = lines.line(first.location.start());
        tracing::debug!(
            path,
            errors = count,
            first_line = line,
            "python syntax errors"
        );
        record.warnings.push(FileWarning {
            code: WARN_PARSE_ERROR.to_string(),
            message: format!(
                "{count} syntax error(s); first at line {line}: {}",
                first.error
            ),
        });
    }
    if let Mod::Module(module) = parsed.syntax() {
        extract::extract(&source, &lines, &module.body, &mut record);
    }
    crate::pipeline::role::assign_role(&mut record);
    if let Mod::Module(module) = parsed.into_syntax() {
        dismantle::dismantle(module.body);
    }
    record
}

/// Maps byte offsets to 1-based line numbers: line starts computed once, then binary search.
pub(crate) struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    fn new(source: &str) -> Self {
        let mut starts = Vec::with_capacity(source.len() / 32 + 1);
        starts.push(0);
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| (i + 1) as u32),
        );
        Self { starts }
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: TextSize) -> u32 {
        let offset = offset.to_u32();
        // partition_point counts line starts at or before the offset: that is the line number.
        self.starts.partition_point(|&s| s <= offset) as u32
    }
}
