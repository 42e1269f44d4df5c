//! External services (a data table of SDK packages), database clients, environment inputs
//! and outputs that leave the process (files, email, SMS).

use super::{Ctx, FindingKind, Local};
use crate::pipeline::model::Import;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

/// Name of a file-write Output whose path is computed at run time.
pub const DYNAMIC_PATH: &str = "(dynamic path)";

/// `detail` of a database client Store finding.
pub const CLIENT: &str = "client";

/// One known package. `pkg` ending in `/` is an npm scope prefix.
struct Service {
    pkg: &'static str,
    name: &'static str,
    category: &'static str,
}

/// Categories whose packages are data stores rather than external services.
const STORE_CATEGORIES: &[&str] = &["database"];
/// Categories whose packages are infrastructure (brokers and caches), not services.
const INFRA_CATEGORIES: &[&str] = &["cache", "messaging"];

macro_rules! services {
    ($($pkg:literal => $name:literal, $cat:literal;)*) => {
        &[$(Service { pkg: $pkg, name: $name, category: $cat }),*]
    };
}

/// Known SDKs and clients, npm packages and Python modules side by side. Order matters only
/// for scope prefixes (first match wins).
const SERVICES: &[Service] = services! {
    "stripe" => "Stripe", "payments";
    "@stripe/stripe-js" => "Stripe", "payments";
    "braintree" => "Braintree", "payments";
    "@paypal/checkout-server-sdk" => "PayPal", "payments";
    "paypalrestsdk" => "PayPal", "payments";
    "aws-sdk" => "AWS", "cloud";
    "@aws-sdk/" => "AWS", "cloud";
    "boto3" => "AWS", "cloud";
    "botocore" => "AWS", "cloud";
    "openai" => "OpenAI", "ai";
    "@anthropic-ai/sdk" => "Anthropic", "ai";
    "anthropic" => "Anthropic", "ai";
    "@google/generative-ai" => "Google Gemini", "ai";
    "cohere-ai" => "Cohere", "ai";
    "cohere" => "Cohere", "ai";
    "@sendgrid/mail" => "SendGrid", "email";
    "sendgrid" => "SendGrid", "email";
    "nodemailer" => "SMTP", "email";
    "smtplib" => "SMTP", "email";
    "resend" => "Resend", "email";
    "postmark" => "Postmark", "email";
    "postmarker" => "Postmark", "email";
    "mailgun.js" => "Mailgun", "email";
    "@mailchimp/mailchimp_transactional" => "Mailchimp", "email";
    "twilio" => "Twilio", "sms";
    "@slack/web-api" => "Slack", "chat";
    "@slack/bolt" => "Slack", "chat";
    "slack_sdk" => "Slack", "chat";
    "discord.js" => "Discord", "chat";
    "firebase" => "Firebase", "cloud";
    "firebase-admin" => "Firebase", "cloud";
    "firebase_admin" => "Firebase", "cloud";
    "@supabase/supabase-js" => "Supabase", "cloud";
    "supabase" => "Supabase", "cloud";
    "@sentry/" => "Sentry", "monitoring";
    "sentry_sdk" => "Sentry", "monitoring";
    "@elastic/elasticsearch" => "Elasticsearch", "search";
    "elasticsearch" => "Elasticsearch", "search";
    "algoliasearch" => "Algolia", "search";
    "@octokit/rest" => "GitHub API", "vcs";
    "octokit" => "GitHub API", "vcs";
    "github" => "GitHub API", "vcs";
    "googleapis" => "Google APIs", "cloud";
    "@google-cloud/" => "Google Cloud", "cloud";
    "auth0" => "Auth0", "auth";
    "kafkajs" => "Kafka", "messaging";
    "kafka" => "Kafka", "messaging";
    "confluent_kafka" => "Kafka", "messaging";
    "amqplib" => "RabbitMQ", "messaging";
    "pika" => "RabbitMQ", "messaging";
    "axios" => "HTTP client (axios)", "http";
    "node-fetch" => "HTTP client (node-fetch)", "http";
    "got" => "HTTP client (got)", "http";
    "superagent" => "HTTP client (superagent)", "http";
    "undici" => "HTTP client (undici)", "http";
    "ky" => "HTTP client (ky)", "http";
    "cross-fetch" => "HTTP client (cross-fetch)", "http";
    "requests" => "HTTP client (requests)", "http";
    "httpx" => "HTTP client (httpx)", "http";
    "aiohttp" => "HTTP client (aiohttp)", "http";
    "urllib3" => "HTTP client (urllib3)", "http";
    "pg" => "PostgreSQL", "database";
    "postgres" => "PostgreSQL", "database";
    "pg-promise" => "PostgreSQL", "database";
    "psycopg2" => "PostgreSQL", "database";
    "psycopg" => "PostgreSQL", "database";
    "asyncpg" => "PostgreSQL", "database";
    "mysql" => "MySQL", "database";
    "mysql2" => "MySQL", "database";
    "pymysql" => "MySQL", "database";
    "MySQLdb" => "MySQL", "database";
    "sqlite3" => "SQLite", "database";
    "better-sqlite3" => "SQLite", "database";
    "mongodb" => "MongoDB", "database";
    "mongoose" => "MongoDB", "database";
    "pymongo" => "MongoDB", "database";
    "motor" => "MongoDB", "database";
    "redis" => "Redis", "cache";
    "ioredis" => "Redis", "cache";
    "@upstash/redis" => "Redis", "cache";
    "memjs" => "Memcached", "cache";
    "memcached" => "Memcached", "cache";
    "pymemcache" => "Memcached", "cache";
    "pylibmc" => "Memcached", "cache";
};

/// AWS service names by SDK client suffix / boto3 service name: (key, name, category).
const AWS: &[(&str, &str, &str)] = &[
    ("s3", "AWS S3", "storage"),
    ("ses", "AWS SES", "email"),
    ("sesv2", "AWS SES", "email"),
    ("sqs", "AWS SQS", "messaging"),
    ("sns", "AWS SNS", "messaging"),
    ("dynamodb", "AWS DynamoDB", "database"),
    ("lib-dynamodb", "AWS DynamoDB", "database"),
    ("lambda", "AWS Lambda", "cloud"),
    ("secrets-manager", "AWS Secrets Manager", "cloud"),
    ("secretsmanager", "AWS Secrets Manager", "cloud"),
    ("bedrock-runtime", "AWS Bedrock", "ai"),
];

/// Local phase.
pub(super) fn scan(ctx: &Ctx<'_>, out: &mut Local) {
    sdk_imports(ctx, out);
    http_hosts(ctx, out);
    env_inputs(ctx, out);
    file_writes(ctx, out);
}

/// The first entry of [`SERVICES`] that `i` imports, as [`super::import_matches`] decides:
/// exact names through one map, scope prefixes (a handful) one by one. Checking every entry
/// per import was most of this detector's time on large repositories.
fn service_of(i: &Import) -> Option<&'static Service> {
    static EXACT: LazyLock<HashMap<&'static str, usize>> = LazyLock::new(|| {
        let mut m = HashMap::new();
        for (k, s) in SERVICES.iter().enumerate() {
            if !s.pkg.ends_with('/') {
                m.entry(s.pkg).or_insert(k);
            }
        }
        m
    });
    static SCOPES: LazyLock<Vec<usize>> = LazyLock::new(|| {
        (0..SERVICES.len())
            .filter(|&k| SERVICES[k].pkg.ends_with('/'))
            .collect()
    });
    let raw = i.raw.as_str();
    let mut best = SCOPES
        .iter()
        .copied()
        .find(|&k| super::import_matches(i, SERVICES[k].pkg));
    if i.level == 0 && !raw.starts_with('.') {
        // The package name, the whole import, and the import cut before each `/` or `.`.
        let cuts = raw
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'/' || b == b'.')
            .map(|(at, _)| &raw[..at]);
        let names = i.package.as_deref().into_iter().chain([raw]).chain(cuts);
        for k in names.filter_map(|n| EXACT.get(n).copied()) {
            best = Some(best.map_or(k, |b| b.min(k)));
        }
    }
    best.map(|k| &SERVICES[k])
}

fn lookup(i: &Import) -> Option<(String, &'static str, String)> {
    let s = service_of(i)?;
    let pkg = i.package.as_ref().unwrap_or(&i.raw).to_string();
    if s.name == "AWS" {
        if let Some(client) = i.raw.strip_prefix("@aws-sdk/") {
            let key = client.strip_prefix("client-").unwrap_or(client);
            if let Some((_, n, c)) = AWS.iter().find(|(k, _, _)| *k == key) {
                return Some((n.to_string(), c, pkg));
            }
        }
    }
    Some((s.name.to_string(), s.category, pkg))
}

fn push_service(ctx: &Ctx<'_>, out: &mut Local, line: u32, name: &str, category: &str, pkg: &str) {
    if INFRA_CATEGORIES.contains(&category) {
        // A Redis client beside a queue library is that library's broker connection.
        let role = if category == "messaging" || ctx.imports_any(super::infra::QUEUE_PACKAGES) {
            super::infra::BROKER
        } else {
            super::infra::CACHE
        };
        out.findings
            .push(ctx.finding(FindingKind::Infra, line, name, pkg, role));
    } else if STORE_CATEGORIES.contains(&category) {
        out.findings
            .push(ctx.finding(FindingKind::Store, line, name, pkg, CLIENT));
    } else {
        out.findings
            .push(ctx.finding(FindingKind::External, line, name, pkg, category));
    }
    if matches!(category, "email" | "sms") {
        out.findings
            .push(ctx.finding(FindingKind::Output, line, name, pkg, category));
    }
}

fn sdk_imports(ctx: &Ctx<'_>, out: &mut Local) {
    let mut seen = BTreeSet::new();
    for i in ctx.rec.imports.iter().filter(|i| i.resolved.is_none()) {
        if let Some((name, category, pkg)) = lookup(i) {
            if seen.insert(name.clone()) {
                push_service(ctx, out, i.line, &name, category, &pkg);
            }
        }
    }
    if ctx.is_py() && seen.contains("AWS") {
        for callee in ["boto3.client", "boto3.resource"] {
            for (at, open) in ctx.sc.calls(callee) {
                let Some(l) = ctx.sc.lit_after(open) else {
                    continue;
                };
                if let Some((_, n, c)) = AWS.iter().find(|(k, _, _)| *k == l.value) {
                    if seen.insert(n.to_string()) {
                        push_service(ctx, out, ctx.sc.line(at), n, c, "boto3");
                    }
                }
            }
        }
    }
}

/// Hosts of absolute URLs in files that make HTTP calls.
fn http_hosts(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    let http = out
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::External && f.detail == "http")
        || (!ctx.is_py() && !sc.calls("fetch").is_empty());
    if !http {
        return;
    }
    let mut seen = BTreeSet::new();
    for l in &sc.lits {
        let Some(rest) = l
            .value
            .strip_prefix("https://")
            .or_else(|| l.value.strip_prefix("http://"))
        else {
            continue;
        };
        let host = rest.split(['/', '?', '#', '$', '{']).next().unwrap_or("");
        let bare = host.split(':').next().unwrap_or(host);
        let local = matches!(bare, "localhost" | "127.0.0.1" | "0.0.0.0" | "example.com")
            || bare.ends_with("w3.org")
            || !bare.contains('.');
        if !local && seen.insert(bare.to_string()) {
            out.findings.push(ctx.finding(
                FindingKind::External,
                sc.line(l.start),
                bare,
                "http",
                "http",
            ));
        }
    }
}

fn env_inputs(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    let code = sc.code.as_str();
    let b = code.as_bytes();
    let mut vars: Vec<(String, u32)> = Vec::new();
    if ctx.is_py() {
        let mut opens: Vec<(usize, usize)> = Vec::new();
        for callee in [
            "os.getenv",
            "getenv",
            "os.environ.get",
            "environ.get",
            "os.environ.setdefault",
        ] {
            opens.extend(sc.calls(callee));
        }
        if ctx.imports("decouple") {
            opens.extend(sc.calls("config"));
        }
        if ctx.imports("environ") {
            opens.extend(sc.calls("env"));
        }
        for (at, open) in opens {
            if let Some(l) = sc.lit_after(open) {
                vars.push((l.value.clone(), sc.line(at)));
            }
        }
        for p in sc.words("environ") {
            let after = p + "environ".len();
            if b.get(after) == Some(&b'[') {
                if let Some(l) = sc.lit_after(after + 1) {
                    vars.push((l.value.clone(), sc.line(p)));
                }
            }
        }
    } else {
        for base in ["process.env", "import.meta.env"] {
            let mut from = 0;
            while let Some(p) = super::super::scan::find_from(code, from, base) {
                from = p + base.len();
                if p > 0 && (super::super::scan::is_ident(b[p - 1]) || b[p - 1] == b'.') {
                    continue;
                }
                let line = sc.line(p);
                match b.get(from) {
                    Some(b'.') => {
                        if let Some(id) = sc.ident_after(from + 1) {
                            vars.push((id.to_string(), line));
                        }
                    }
                    Some(b'[') => {
                        if let Some(l) = sc.lit_after(from + 1) {
                            vars.push((l.value.clone(), line));
                        }
                    }
                    _ => vars.extend(destructured(code, p).into_iter().map(|v| (v, line))),
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (name, line) in vars {
        let valid =
            !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        if valid && seen.insert(name.clone()) {
            let fw = if ctx.is_py() {
                "os.environ"
            } else {
                "process.env"
            };
            out.findings
                .push(ctx.finding(FindingKind::EnvInput, line, &name, fw, "env"));
        }
    }
}

/// Names in `const { A, B: b, C = 1 } = process.env` ending at `at`.
fn destructured(code: &str, at: usize) -> Vec<String> {
    let before = code[..at].trim_end();
    let Some(before) = before.strip_suffix('=') else {
        return Vec::new();
    };
    let before = before.trim_end();
    let Some(inner_end) = before.strip_suffix('}') else {
        return Vec::new();
    };
    let Some(open) = inner_end.rfind('{') else {
        return Vec::new();
    };
    inner_end[open + 1..]
        .split(',')
        .filter_map(|part| {
            let key = part.split([':', '=']).next()?.trim();
            super::super::scan::is_identifier(key).then(|| key.to_string())
        })
        .collect()
}

fn file_writes(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    let mut opens: Vec<(usize, usize)> = Vec::new();
    if ctx.is_py() {
        for (at, open) in sc.calls("open") {
            let args = sc.args(open);
            let mode = args
                .get(1)
                .and_then(|a| sc.arg_lit(*a))
                .or_else(|| sc.kwarg_lit(open, "mode"));
            if mode.is_some_and(|m| m.value.starts_with(['w', 'a', 'x'])) {
                opens.push((at, open));
            }
        }
        for m in [
            "write_text",
            "write_bytes",
            "to_csv",
            "to_parquet",
            "to_excel",
        ] {
            opens.extend(sc.method_calls(m).into_iter().map(|(_, o)| (o, o)));
        }
    } else {
        for callee in [
            "fs.writeFile",
            "fs.writeFileSync",
            "fs.promises.writeFile",
            "fs.appendFile",
            "fs.appendFileSync",
            "fs.createWriteStream",
            "writeFile",
            "writeFileSync",
            "createWriteStream",
        ] {
            opens.extend(sc.calls(callee));
        }
    }
    opens.sort_unstable();
    let mut seen = BTreeSet::new();
    for (at, open) in opens {
        let name = sc
            .lit_after(open)
            .filter(|l| !l.dynamic && !l.value.is_empty())
            .map_or_else(|| DYNAMIC_PATH.to_string(), |l| l.value.clone());
        if seen.insert(name.clone()) {
            out.findings
                .push(ctx.finding(FindingKind::Output, sc.line(at), &name, "fs", "file"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{destructured, service_of, SERVICES};
    use crate::pipeline::model::{Import, ImportKind};

    #[test]
    fn service_lookup_is_the_first_match_of_the_list() {
        let import = |raw: &str, package: Option<&str>, level: u32| Import {
            raw: raw.into(),
            kind: ImportKind::Esm,
            line: 1,
            names: Vec::new(),
            level,
            resolved: None,
            external: package.is_some(),
            package: package.map(Into::into),
            unresolved_reason: None,
        };
        let mut cases = Vec::new();
        for s in SERVICES {
            let p = s.pkg;
            let bare = p.trim_end_matches('/');
            for raw in [
                p.to_string(),
                format!("{bare}/x"),
                format!("{bare}.x.y"),
                format!("{bare}x"),
                format!(".{bare}"),
                format!("x/{bare}"),
            ] {
                cases.push(import(&raw, None, 0));
                cases.push(import(&raw, Some(bare), 0));
                cases.push(import(&raw, Some("other"), 0));
                cases.push(import(&raw, None, 1));
            }
        }
        let mut found = 0;
        for i in &cases {
            let want = SERVICES
                .iter()
                .position(|s| super::super::import_matches(i, s.pkg));
            let got = service_of(i).map(|s| s.pkg);
            assert_eq!(
                got,
                want.map(|k| SERVICES[k].pkg),
                "{} {:?}",
                i.raw,
                i.package
            );
            found += usize::from(got.is_some());
        }
        assert!(found > cases.len() / 4, "{found} of {}", cases.len());
    }

    #[test]
    fn destructured_env_names() {
        let code = "const { PORT, DB_URL: url, MODE = 'x' } = process.env";
        let at = code.find("process").unwrap_or(0);
        assert_eq!(destructured(code, at), vec!["PORT", "DB_URL", "MODE"]);
        assert!(destructured("foo(process.env)", 4).is_empty());
    }
}
