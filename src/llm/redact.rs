//! Secret redaction: everything sent to an LLM passes through [`redact`] first.
//!
//! Pure text rewriting, no regex engine: a few passes that each know one shape of secret.
//! 1. Private key blocks (`-----BEGIN … PRIVATE KEY-----` to the matching `-----END`), PGP
//!    private key blocks and OpenSSH keys become one `[REDACTED PRIVATE KEY]` line.
//! 2. Credentials in URLs (`postgres://user:pass@host`, `https://token@host`): the password
//!    (or a long user-only token) becomes `[REDACTED]`, the rest of the URL stays readable.
//! 3. Well-known token shapes anywhere in the text: AWS access key ids (`AKIA…`, `ASIA…`),
//!    GitHub (`ghp_…`, `github_pat_…`), Slack (`xox?-…`), OpenAI/Anthropic-style `sk-…`,
//!    Stripe `sk_live_…`/`rk_live_…`, Google `AIza…`, SendGrid `SG.…`, npm `npm_…`, JWTs
//!    (`eyJ….eyJ….…`) and `Bearer`/`Basic` credentials.
//! 4. Values assigned to secret-looking names (`AWS_SECRET_ACCESS_KEY=…`, `password: …`,
//!    `"apiKey": "…"`, `DB_PASSWORD := '…'`): quoted values anywhere, bare values when the
//!    name starts the line (env files, YAML, shell).
//!
//! The rules prefer redacting too much over too little: a summary loses nothing by not seeing
//! a literal password. What is *not* caught: secrets with no recognisable name or shape
//! (a random string in an unnamed variable), and secrets split across lines.

/// Replacement for a redacted value.
pub const REDACTED: &str = "[REDACTED]";
/// Replacement for a whole private key block.
pub const REDACTED_KEY_BLOCK: &str = "[REDACTED PRIVATE KEY]";

/// Text with its secrets replaced, and how many replacements were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The text, safe to send.
    pub text: String,
    /// Number of secrets replaced.
    pub count: usize,
}

/// Replaces every secret [`redact`] knows in `text` (see the module doc for the rules).
pub fn redact(text: &str) -> Redacted {
    let (t, a) = private_key_blocks(text);
    let (t, b) = url_credentials(&t);
    let (t, c) = token_shapes(&t);
    let (t, d) = secret_assignments(&t);
    Redacted {
        text: t,
        count: a + b + c + d,
    }
}

fn private_key_blocks(text: &str) -> (String, usize) {
    if !text.contains("-----BEGIN") {
        return (text.to_string(), 0);
    }
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        if !inside {
            let is_begin = line.contains("-----BEGIN")
                && (line.contains("PRIVATE KEY") || line.contains("OPENSSH"));
            if is_begin {
                inside = true;
                count += 1;
                let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
                out.push_str(&indent);
                out.push_str(REDACTED_KEY_BLOCK);
                if line.ends_with('\n') {
                    out.push('\n');
                }
                // A one-line block (BEGIN and END on the same line, e.g. an escaped string).
                if line.contains("-----END") {
                    inside = false;
                }
                continue;
            }
            out.push_str(line);
        } else if line.contains("-----END") {
            inside = false;
            // Keep whatever follows the END marker on its line (a closing quote, a comma).
            if let Some(pos) = line.find("-----END") {
                let rest = &line[pos + 8..];
                let after = rest.find("-----").map_or("", |i| &rest[i + 5..]);
                out.push_str(after);
            }
        }
    }
    (out, count)
}

fn is_url_authority_end(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>' | ')' | ','
        )
}

fn url_credentials(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail.find(is_url_authority_end).unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) if at > 0 => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) if colon + 1 < userinfo.len() => {
                        out.push_str(&userinfo[..colon + 1]);
                        out.push_str(REDACTED);
                        count += 1;
                    }
                    None if userinfo.len() >= 16 => {
                        out.push_str(REDACTED);
                        count += 1;
                    }
                    _ => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    (out, count)
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'='
}

fn run_len(bytes: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .take_while(|b| pred(**b))
        .count()
}

/// Length of a known token starting at `i` (preceded by a non-token character), if any.
fn token_at(bytes: &[u8], i: usize) -> Option<usize> {
    let s = &bytes[i..];
    let starts = |p: &str| s.starts_with(p.as_bytes());
    // (prefix, minimum length of the body after it, body character class)
    let prefixed: &[(&str, usize)] = &[
        ("github_pat_", 20),
        ("ghp_", 20),
        ("gho_", 20),
        ("ghu_", 20),
        ("ghs_", 20),
        ("ghr_", 20),
        ("xoxb-", 10),
        ("xoxp-", 10),
        ("xoxa-", 10),
        ("xoxr-", 10),
        ("xoxs-", 10),
        ("sk_live_", 10),
        ("sk_test_", 10),
        ("rk_live_", 10),
        ("rk_test_", 10),
        ("npm_", 20),
        ("sk-", 20),
    ];
    for (p, min) in prefixed {
        if starts(p) {
            let body = run_len(bytes, i + p.len(), is_token_char);
            if body >= *min {
                return Some(p.len() + body);
            }
        }
    }
    if starts("AKIA") || starts("ASIA") || starts("AGPA") || starts("AIDA") || starts("AROA") {
        let body = run_len(bytes, i + 4, |b| {
            b.is_ascii_uppercase() || b.is_ascii_digit()
        });
        if body == 16 {
            return Some(20);
        }
    }
    if starts("AIza") {
        let body = run_len(bytes, i + 4, is_token_char);
        if body >= 30 {
            return Some(4 + body);
        }
    }
    if starts("SG.") {
        let a = run_len(bytes, i + 3, is_token_char);
        if a >= 16 && bytes.get(i + 3 + a) == Some(&b'.') {
            let b = run_len(bytes, i + 4 + a, is_token_char);
            if b >= 16 {
                return Some(4 + a + b);
            }
        }
    }
    if starts("eyJ") {
        // JWT: three base64url segments, the first two JSON objects (`eyJ` = `{"`).
        let a = run_len(bytes, i, is_b64url);
        if a >= 10 && bytes.get(i + a) == Some(&b'.') {
            let j = i + a + 1;
            let b = run_len(bytes, j, is_b64url);
            if b >= 4 && bytes.get(j + b) == Some(&b'.') {
                let c = run_len(bytes, j + b + 1, is_b64url);
                return Some(a + 1 + b + 1 + c);
            }
        }
    }
    None
}

/// Length of `Bearer ` or `Basic ` (any case) at `i`.
fn auth_scheme_at(bytes: &[u8], i: usize) -> Option<usize> {
    ["bearer ", "basic "].iter().find_map(|scheme| {
        let n = scheme.len();
        (bytes.len() >= i + n && bytes[i..i + n].eq_ignore_ascii_case(scheme.as_bytes()))
            .then_some(n)
    })
}

fn token_shapes(text: &str) -> (String, usize) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !is_token_char(bytes[i - 1]) && bytes[i - 1] != b'.';
        if boundary {
            if let Some(len) = token_at(bytes, i) {
                out.push_str(&text[copied..i]);
                out.push_str(REDACTED);
                count += 1;
                i += len;
                copied = i;
                continue;
            }
            // `Bearer <token>` / `Basic <credentials>`, any case.
            if let Some(n) = auth_scheme_at(bytes, i) {
                let body = run_len(bytes, i + n, |b| {
                    is_b64url(b) || matches!(b, b'.' | b'~' | b'+' | b'/')
                });
                if body >= 16 {
                    out.push_str(&text[copied..i + n]);
                    out.push_str(REDACTED);
                    count += 1;
                    i += n + body;
                    copied = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    (out, count)
}

/// Splits an identifier into lower-case words (`AWS_SECRET_ACCESS_KEY`, `apiKey`, `db-pass`).
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a variable or key name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let w = words(name);
    let has = |x: &str| w.iter().any(|s| s == x);
    let single = [
        "secret",
        "secrets",
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "token",
        "apikey",
        "credential",
        "credentials",
        "privatekey",
        "dsn",
        "auth",
    ];
    if single.iter().any(|s| has(s)) {
        return true;
    }
    let key_like = [
        "api",
        "access",
        "private",
        "signing",
        "encryption",
        "master",
        "client",
    ];
    w.windows(2).any(|p| {
        (p[1] == "key" && key_like.contains(&p[0].as_str()))
            || (p[0] == "connection" && p[1] == "string")
            || (p[0] == "conn" && p[1] == "str")
    })
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.'
}

fn secret_assignments(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    for line in text.split_inclusive('\n') {
        let (l, n) = redact_line_assignments(line);
        out.push_str(&l);
        count += n;
    }
    (out, count)
}

/// Finds `name <op> value` on one line and redacts the value when the name is secret-looking.
fn redact_line_assignments(line: &str) -> (String, usize) {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let is_op = (c == b'='
            && bytes.get(i + 1) != Some(&b'=')
            && (i == 0 || !b"=!<>".contains(&bytes[i - 1])))
            || (c == b':'
                && bytes.get(i + 1) != Some(&b':')
                && bytes.get(i + 1) != Some(&b'/')
                && (i == 0 || bytes[i - 1] != b':'));
        if !is_op {
            i += 1;
            continue;
        }
        // The name just before the operator: skip spaces, a closing quote, `:` of `:=`.
        let mut j = i;
        while j > 0 && matches!(bytes[j - 1], b' ' | b'\t' | b':') {
            j -= 1;
        }
        if j > 0 && matches!(bytes[j - 1], b'"' | b'\'' | b']') {
            j -= 1;
        }
        let name_end = j;
        while j > 0 && is_ident_char(bytes[j - 1]) {
            j -= 1;
        }
        let name = &line[j..name_end];
        let line_start = line[..j]
            .trim_start()
            .trim_start_matches("export ")
            .trim_start_matches("- ")
            .trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace())
            .is_empty();
        // Value after the operator (`=>` and `:=` included).
        let mut k = i + 1;
        if bytes.get(k) == Some(&b'>') || (c == b':' && bytes.get(k) == Some(&b'=')) {
            k += 1;
        }
        while k < bytes.len() && matches!(bytes[k], b' ' | b'\t') {
            k += 1;
        }
        if name.is_empty() || !is_secret_name(name) || k >= bytes.len() {
            i = k.max(i + 1);
            continue;
        }
        let q = bytes[k];
        if matches!(q, b'"' | b'\'' | b'`') {
            let close = line[k + 1..].find(q as char).map(|p| k + 1 + p);
            let end = close.unwrap_or_else(|| line.trim_end_matches(['\n', '\r']).len());
            if end > k + 1 && &line[k + 1..end] != REDACTED {
                out.push_str(&line[copied..k + 1]);
                out.push_str(REDACTED);
                count += 1;
                copied = end;
            }
            i = end + 1;
            continue;
        }
        if line_start && !matches!(q, b'\n' | b'\r' | b'{' | b'[' | b'|' | b'>') {
            let end = line.trim_end_matches(['\n', '\r']).len();
            let value = line[k..end].trim_end();
            if !value.is_empty() && value != REDACTED {
                out.push_str(&line[copied..k]);
                out.push_str(REDACTED);
                count += 1;
                copied = k + value.len();
            }
            break;
        }
        i = k;
    }
    out.push_str(&line[copied.min(line.len())..]);
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact(s).text
    }

    #[test]
    fn env_file_secrets() {
        let text = "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nexport DB_PASSWORD=hunter2\nPORT=3000\n";
        let out = redact(text);
        assert!(!out.text.contains("AKIAIOSFODNN7EXAMPLE"), "{}", out.text);
        assert!(!out.text.contains("wJalrXUtnFEMI"), "{}", out.text);
        assert!(!out.text.contains("hunter2"), "{}", out.text);
        assert!(
            out.text.contains("PORT=3000"),
            "non-secrets stay: {}",
            out.text
        );
        assert!(out.text.contains("AWS_SECRET_ACCESS_KEY=[REDACTED]"));
        assert_eq!(out.count, 3);
    }

    #[test]
    fn private_key_block_is_removed() {
        let text = "const key = `\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAbCdEf==\n-----END PRIVATE KEY-----`;\nconsole.log(key);\n";
        let out = r(text);
        assert!(!out.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), "{out}");
        assert!(!out.contains("AbCdEf=="), "{out}");
        assert!(out.contains(REDACTED_KEY_BLOCK));
        assert!(out.contains("`;\nconsole.log(key);"), "{out}");
        let rsa = "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n";
        assert!(!r(rsa).contains("abc"));
        let ssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n";
        assert!(
            !r(ssh).contains("b3BlbnNzaA"),
            "an unterminated block is cut to the end"
        );
        let public = "-----BEGIN PUBLIC KEY-----\nMFkwEwYH\n-----END PUBLIC KEY-----\n";
        assert_eq!(r(public), public, "public keys are not secrets");
    }

    #[test]
    fn url_credentials_are_redacted() {
        assert_eq!(
            r("DATABASE = 'postgres://admin:s3cr3t@db.internal:5432/app'"),
            "DATABASE = 'postgres://admin:[REDACTED]@db.internal:5432/app'"
        );
        assert_eq!(
            r("redis://:pw@localhost:6379/0"),
            "redis://:[REDACTED]@localhost:6379/0"
        );
        assert_eq!(
            r("git clone https://ghx0123456789abcdefghij@github.com/o/r"),
            "git clone https://[REDACTED]@github.com/o/r"
        );
        let plain = "see https://example.com/a?b=c and mailto:x@y.z";
        assert_eq!(r(plain), plain);
        assert_eq!(r("mongodb://user@host/db"), "mongodb://user@host/db");
    }

    #[test]
    fn token_shapes_anywhere() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let cases = [
            format!("fetch(url, {{ headers: {{ x: '{jwt}' }} }})"),
            "const gh = ghp_abcdefghijklmnopqrstuvwxyz0123456789;".to_string(),
            "client = OpenAI(sk-proj-abcdefghijklmnopqrstuvwxyz)".to_string(),
            "stripe(sk_live_4eC39HqLyjWDarjtT1zdp7dc)".to_string(),
            "slack xoxb-123456789012-abcdefghijkl".to_string(),
            "key AIzaSyA-abcdefghijklmnopqrstuvwxyz123456".to_string(),
            "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".to_string(),
            "curl -H 'Authorization: Bearer abcdef0123456789abcdef'".to_string(),
            "id ASIAY34FZKBOKMUTVV7A in logs".to_string(),
        ];
        for c in &cases {
            let out = redact(c);
            assert!(out.count >= 1, "nothing redacted in {c}");
            assert!(out.text.contains(REDACTED), "{c} -> {}", out.text);
        }
        assert!(!r(&cases[0]).contains("dozjgNryP4J3"));
        // Look-alikes that are not tokens.
        for ok in [
            "task-runner sk-short",
            "ghp_ too short",
            "AKIA123",
            "the bearer of news",
            "skeleton-key-holder",
        ] {
            assert_eq!(r(ok), ok);
        }
    }

    #[test]
    fn quoted_values_of_secret_names() {
        assert_eq!(
            r(r#"{"apiKey": "abc123", "name": "demo"}"#),
            r#"{"apiKey": "[REDACTED]", "name": "demo"}"#
        );
        assert_eq!(
            r("const password = 'hunter2'; const user = 'bob';"),
            "const password = '[REDACTED]'; const user = 'bob';"
        );
        assert_eq!(
            r("SECRET_KEY = \"django-insecure-xyz\""),
            "SECRET_KEY = \"[REDACTED]\""
        );
        assert_eq!(
            r("conn := 'x'; db_pass := 'p@ss'"),
            "conn := 'x'; db_pass := '[REDACTED]'"
        );
        assert_eq!(
            r("'client_secret' => 'zzz',"),
            "'client_secret' => '[REDACTED]',"
        );
        assert_eq!(
            r("password: hunter2\nuser: bob\n"),
            "password: [REDACTED]\nuser: bob\n"
        );
    }

    #[test]
    fn code_is_left_alone() {
        for ok in [
            "if (password === input) { return true; }",
            "const token = req.headers.authorization;",
            "max_tokens = 600",
            "author = 'Ada'",
            "tokenizer = 'bert'",
            "x == 'secret'",
            "def check(password: str) -> bool:",
            "let url = `https://${host}/x`;",
        ] {
            assert_eq!(r(ok), ok, "{ok}");
        }
    }

    #[test]
    fn secret_names() {
        for yes in [
            "AWS_SECRET_ACCESS_KEY",
            "apiKey",
            "api_key",
            "GITHUB_TOKEN",
            "dbPassword",
            "PRIVATE_KEY",
            "stripeSecret",
            "SENTRY_DSN",
            "connection_string",
            "client-secret",
        ] {
            assert!(is_secret_name(yes), "{yes}");
        }
        for no in [
            "author",
            "tokenizer",
            "max_tokens",
            "keyboard",
            "monkey",
            "passenger",
            "name",
        ] {
            assert!(!is_secret_name(no), "{no}");
        }
    }

    #[test]
    fn multibyte_text_is_safe() {
        let text = "é = 'ü'\npassword = 'ñañá'\n日本 = \"x\"\n";
        let out = r(text);
        assert!(!out.contains("ñañá"));
        assert!(out.contains("日本"));
    }
}
