//! The file-summary prompt and the schema its answers must meet.
//!
//! The model gets the facts provis already established (the deterministic summary, routes,
//! exports, functions, imports) and the file's text, cut to [`MAX_SOURCE_CHARS`]. It must
//! answer one JSON object `{title, purpose, keyFunctions, risks, blurb}`;
//! [`parse_reply`] checks it field by field. Changing the prompt or the schema means bumping
//! [`PROMPT_VERSION`], which is part of the cache key, so no stale answer is reused.

use super::client::Message;
use crate::pipeline::caps::FileSummary;
use crate::pipeline::model::FileRecord;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Version of the prompt and schema; part of the cache key.
pub const PROMPT_VERSION: &str = "file-summary-v1";
/// Longest part of a file's text sent, in characters.
pub const MAX_SOURCE_CHARS: usize = 8_000;
/// Longest title kept, in characters.
pub const MAX_TITLE_CHARS: usize = 120;
/// Longest purpose kept, in characters.
pub const MAX_PURPOSE_CHARS: usize = 1_200;
/// Longest blurb kept, in characters (as the deterministic ones).
pub const MAX_BLURB_CHARS: usize = crate::pipeline::caps::summaries::MAX_BLURB_CHARS;
/// Most key functions kept.
pub const MAX_KEY_FUNCTIONS: usize = crate::pipeline::caps::summaries::MAX_KEY_FUNCTIONS;
/// Most risks kept.
pub const MAX_RISKS: usize = 8;

const SYSTEM: &str = "You are provis, a senior engineer who explains source files to other developers. \
You receive one file of a repository: facts extracted by a parser, and the file's text (secrets removed). \
Answer with ONE JSON object and nothing else, with exactly these fields:\n\
- \"title\": string, what the file is, in a few words (max 12 words);\n\
- \"purpose\": string, 1-3 sentences on what the file does and why it exists;\n\
- \"keyFunctions\": array of strings, names of the functions, classes or handlers to read first (names that appear in the file; at most 8);\n\
- \"risks\": array of strings, concrete things that can break or need care when editing (may be empty);\n\
- \"blurb\": string, one sentence of at most 200 characters.\n\
State only what the file shows. Do not invent names. Do not write code.";

/// A summary as the model returned it, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LlmSummary {
    /// What the file is.
    pub title: String,
    /// What it does.
    pub purpose: String,
    /// Functions to read first.
    pub key_functions: Vec<String>,
    /// Things to be careful about.
    pub risks: Vec<String>,
    /// One sentence.
    pub blurb: String,
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// Not a JSON object.
    #[error("the answer is not a JSON object: {0}")]
    NotJson(String),
    /// A field is missing or has the wrong type or is empty.
    #[error("field {field}: {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
}

/// The messages asking for a summary of `rec` (text `text`, deterministic summary `det`).
pub fn file_messages(rec: &FileRecord, text: &str, det: &FileSummary) -> Vec<Message> {
    let functions: Vec<&str> = rec
        .functions
        .iter()
        .take(40)
        .map(|f| f.name.as_str())
        .collect();
    let classes: Vec<&str> = rec
        .classes
        .iter()
        .take(20)
        .map(|c| c.name.as_str())
        .collect();
    let routes: Vec<String> = rec
        .routes
        .iter()
        .take(30)
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.handler))
        .collect();
    let imports: Vec<&str> = rec
        .imports
        .iter()
        .take(30)
        .map(|i| i.raw.as_str())
        .collect();
    let total = text.chars().count();
    let source = if total > MAX_SOURCE_CHARS {
        format!(
            "{}\n[… {} more characters not shown]",
            super::truncate(text, MAX_SOURCE_CHARS),
            total - MAX_SOURCE_CHARS
        )
    } else {
        text.to_string()
    };
    let facts = json!({
        "path": rec.path,
        "language": crate::pipeline::language_label(rec.language),
        "lines": rec.lines,
        "exports": rec.exports.iter().take(30).collect::<Vec<_>>(),
        "functions": functions,
        "classes": classes,
        "routes": routes,
        "imports": imports,
        "parserSummary": {
            "title": det.title,
            "purpose": det.purpose,
            "keyFunctions": det.key_functions,
            "risks": det.risks,
        },
    });
    let user = format!(
        "Summarize this file as the JSON object described.\nFacts:\n{}\n\nText of {}:\n{}",
        serde_json::to_string_pretty(&facts).unwrap_or_else(|_| facts.to_string()),
        rec.path,
        source
    );
    vec![Message::new("system", SYSTEM), Message::new("user", user)]
}

/// Messages for the second (and last) attempt after an invalid answer: the conversation so
/// far plus what was wrong.
pub fn retry_messages(first: &[Message], answer: &str, err: &SchemaError) -> Vec<Message> {
    let mut out = first.to_vec();
    out.push(Message::new("assistant", super::truncate(answer, 2_000)));
    out.push(Message::new(
        "user",
        format!(
            "That answer was not valid ({err}). Reply with only the JSON object with the fields \
             title, purpose, keyFunctions, risks and blurb."
        ),
    ));
    out
}

/// Rough token count of `messages` (4 characters a token, plus framing).
pub fn estimate_tokens(messages: &[Message]) -> u64 {
    messages
        .iter()
        .map(|m| m.content.chars().count() as u64 / 4 + 8)
        .sum::<u64>()
        + 8
}

fn string_field(v: &Value, field: &'static str, max: usize) -> Result<String, SchemaError> {
    match v.get(field) {
        None | Some(Value::Null) => Err(SchemaError::Field {
            field,
            problem: "missing",
        }),
        Some(Value::String(s)) if s.trim().is_empty() => Err(SchemaError::Field {
            field,
            problem: "empty",
        }),
        Some(Value::String(s)) => Ok(super::truncate(s.trim(), max)),
        Some(_) => Err(SchemaError::Field {
            field,
            problem: "not a string",
        }),
    }
}

fn list_field(v: &Value, field: &'static str, max: usize) -> Result<Vec<String>, SchemaError> {
    let bad = SchemaError::Field {
        field,
        problem: "not an array of strings",
    };
    match v.get(field) {
        None | Some(Value::Null) => Err(SchemaError::Field {
            field,
            problem: "missing",
        }),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for it in items {
                let s = it.as_str().ok_or_else(|| bad.clone())?.trim();
                if !s.is_empty() && out.len() < max {
                    out.push(super::truncate(s, 300));
                }
            }
            Ok(out)
        }
        Some(_) => Err(bad),
    }
}

/// Validates a model answer against the summary schema.
///
/// The answer must be one JSON object (a surrounding Markdown code fence is tolerated) with
/// non-empty strings `title`, `purpose`, `blurb` and arrays of strings `keyFunctions`, `risks`.
/// Extra fields are ignored; over-long values are cut.
pub fn parse_reply(content: &str) -> Result<LlmSummary, SchemaError> {
    let mut s = content.trim();
    if let Some(rest) = s.strip_prefix("```") {
        let rest = rest.strip_prefix("json").unwrap_or(rest);
        s = rest.strip_suffix("```").unwrap_or(rest).trim();
    }
    let v: Value = serde_json::from_str(s).map_err(|e| SchemaError::NotJson(e.to_string()))?;
    if !v.is_object() {
        return Err(SchemaError::NotJson("not an object".into()));
    }
    Ok(LlmSummary {
        title: string_field(&v, "title", MAX_TITLE_CHARS)?,
        purpose: string_field(&v, "purpose", MAX_PURPOSE_CHARS)?,
        key_functions: list_field(&v, "keyFunctions", MAX_KEY_FUNCTIONS)?,
        risks: list_field(&v, "risks", MAX_RISKS)?,
        blurb: string_field(&v, "blurb", MAX_BLURB_CHARS)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_answers_pass() {
        let s = parse_reply(
            r#"{"title":"Users API","purpose":"Routes for users.","keyFunctions":["list","create"],"risks":[],"blurb":"Users routes.","extra":1}"#,
        )
        .expect("valid");
        assert_eq!(s.title, "Users API");
        assert_eq!(s.key_functions, vec!["list", "create"]);
        let fenced = "```json\n{\"title\":\"t\",\"purpose\":\"p\",\"keyFunctions\":[],\"risks\":[\"r\"],\"blurb\":\"b\"}\n```";
        assert_eq!(parse_reply(fenced).expect("fenced").risks, vec!["r"]);
    }

    #[test]
    fn invalid_answers_are_refused() {
        let cases = [
            ("not json at all", "not a JSON object"),
            ("[1,2]", "not a JSON object"),
            (
                r#"{"title":"t","purpose":"p","keyFunctions":[],"risks":[]}"#,
                "blurb: missing",
            ),
            (
                r#"{"title":"","purpose":"p","keyFunctions":[],"risks":[],"blurb":"b"}"#,
                "title: empty",
            ),
            (
                r#"{"title":"t","purpose":"p","keyFunctions":"f","risks":[],"blurb":"b"}"#,
                "keyFunctions: not an array",
            ),
            (
                r#"{"title":"t","purpose":"p","keyFunctions":[1],"risks":[],"blurb":"b"}"#,
                "keyFunctions: not an array",
            ),
            (
                r#"{"title":7,"purpose":"p","keyFunctions":[],"risks":[],"blurb":"b"}"#,
                "title: not a string",
            ),
        ];
        for (answer, want) in cases {
            let err = parse_reply(answer).expect_err(answer).to_string();
            assert!(err.contains(want), "{answer}: {err}");
        }
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(1_000);
        let answer = json!({"title": long, "purpose": "p", "keyFunctions": (0..20).map(|i| format!("f{i}")).collect::<Vec<_>>(),
                            "risks": [], "blurb": long});
        let s = parse_reply(&answer.to_string()).expect("valid");
        assert!(s.title.chars().count() <= MAX_TITLE_CHARS);
        assert!(s.blurb.chars().count() <= MAX_BLURB_CHARS);
        assert_eq!(s.key_functions.len(), MAX_KEY_FUNCTIONS);
    }
}
