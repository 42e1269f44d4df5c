//! JSON with comments and trailing commas (tsconfig, jsconfig), read into `serde_json` values.

use serde_json::Value;

/// Parses JSONC: `//` and `/* */` comments and trailing commas are allowed, as in tsconfig
/// files; a leading BOM is ignored. `None` when it is not valid even so.
pub(super) fn parse(text: &str) -> Option<Value> {
    serde_json::from_str(&strip(text)).ok()
}

/// Removes comments (keeping newlines) and trailing commas outside strings.
pub(super) fn strip(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                out.extend_from_slice(&bytes[start..i]);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    if bytes[i] == b'\n' {
                        out.push(b'\n');
                    }
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
                continue;
            }
            b']' | b'}' => {
                // Drop a comma that only whitespace separates from this closer.
                let mut j = out.len();
                while j > 0 && out[j - 1].is_ascii_whitespace() {
                    j -= 1;
                }
                if j > 0 && out[j - 1] == b',' {
                    out.remove(j - 1);
                }
            }
            _ => {}
        }
        out.push(b);
        i += 1;
    }
    // Only ASCII bytes were removed and string contents copied whole, so this stays UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_comments_and_trailing_commas() {
        let v = parse(
            "{\n // c\n \"a\": [1, 2,], /* x */ \"b\": {\"c\": \"//not a comment\",},\n \"d\": \"x\\\"y,}\",\n}",
        )
        .unwrap_or_default();
        assert_eq!(v["a"], serde_json::json!([1, 2]));
        assert_eq!(v["b"]["c"], "//not a comment");
        assert_eq!(v["d"], "x\"y,}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("{ not json").is_none());
    }
}
