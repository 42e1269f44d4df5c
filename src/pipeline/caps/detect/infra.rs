//! Infrastructure: the message brokers and caches an app runs on. They are neither data
//! stores (a Celery broker holds no application data) nor external services (they are part
//! of the deployment), so capabilities list them apart, as `dataFlow.infrastructure`.
//!
//! Found from how the code configures them: a Celery app's `broker=` (the URL scheme names
//! the server, also inside `os.getenv("X", "redis://…")`), RQ / Huey / Dramatiq / Bull
//! queues (Redis by construction), Agenda (MongoDB), Django and Flask cache backends, and
//! URLs with a broker or cache scheme on a line that says what they are for. Cache and
//! broker client packages (redis, ioredis, Kafka, RabbitMQ clients) are named by the
//! services table.

use super::{Ctx, FindingKind, Local};
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// `detail` of a broker finding.
pub const BROKER: &str = "broker";
/// `detail` of a cache finding.
pub const CACHE: &str = "cache";
/// Name of a broker whose server is configured outside the code.
pub const UNKNOWN_BROKER: &str = "Message broker";

/// Python and npm packages whose presence makes a Redis client a broker connection.
pub const QUEUE_PACKAGES: &[&str] = &[
    "bull",
    "bullmq",
    "bee-queue",
    "kue",
    "rq",
    "celery",
    "huey",
    "dramatiq",
    "arq",
];

/// The server a URL's scheme names, if it is a broker or cache scheme.
fn server_of(url: &str) -> Option<&'static str> {
    // Every literal of every file comes here: only the first 19 bytes can hold the `://` of a
    // scheme of at most 16, so they are all that is looked at (a `str::split_once` sets up a
    // searcher per call, which cost more than the rest of this detector).
    let head = &url.as_bytes()[..url.len().min(16 + 3)];
    let colon = head.windows(3).position(|w| w == b"://")?;
    let scheme = &url[..colon];
    Some(match scheme.to_ascii_lowercase().as_str() {
        "redis" | "rediss" | "redis+socket" | "unix" => "Redis",
        "amqp" | "amqps" | "pyamqp" | "librabbitmq" => "RabbitMQ",
        "kafka" => "Kafka",
        "sqs" => "AWS SQS",
        "memcache" | "memcached" => "Memcached",
        "mongodb" | "mongodb+srv" => "MongoDB",
        _ => return None,
    })
}

/// Local phase.
pub(super) fn scan(ctx: &Ctx<'_>, out: &mut Local) {
    let mut found: BTreeSet<(u32, String, &'static str, String)> = BTreeSet::new();
    if ctx.is_py() {
        python(ctx, &mut found);
    } else {
        javascript(ctx, &mut found);
    }
    urls_and_cache_backends(ctx, &mut found);
    for (line, name, detail, fw) in found {
        out.findings
            .push(ctx.finding(FindingKind::Infra, line, &name, &fw, detail));
    }
}

type Found = BTreeSet<(u32, String, &'static str, String)>;

fn python(ctx: &Ctx<'_>, found: &mut Found) {
    let sc = ctx.sc;
    if ctx.imports("celery") {
        for (at, open) in sc.calls("Celery") {
            let name = broker_arg(ctx, open).unwrap_or(UNKNOWN_BROKER);
            found.insert((sc.line(at), name.to_string(), BROKER, "celery".into()));
        }
    }
    let constructors: &[(&str, &str, &str)] = &[
        ("rq", "Queue", "Redis"),
        ("huey", "RedisHuey", "Redis"),
        ("huey", "PriorityRedisHuey", "Redis"),
        ("huey", "RedisExpireHuey", "Redis"),
        ("huey", "SqliteHuey", "SQLite"),
        ("dramatiq", "RedisBroker", "Redis"),
        ("dramatiq", "RabbitmqBroker", "RabbitMQ"),
        ("arq", "create_pool", "Redis"),
    ];
    for (pkg, callee, server) in constructors {
        if !ctx.imports(pkg) {
            continue;
        }
        for (at, _) in sc
            .calls(callee)
            .into_iter()
            .chain(sc.method_calls(callee).into_iter().map(|(_, o)| (o, o)))
        {
            found.insert((sc.line(at), server.to_string(), BROKER, pkg.to_string()));
        }
    }
}

fn javascript(ctx: &Ctx<'_>, found: &mut Found) {
    let sc = ctx.sc;
    for pkg in ["bull", "bullmq", "bee-queue", "kue"] {
        if !ctx.imports(pkg) {
            continue;
        }
        for callee in [
            "Queue",
            "Worker",
            "QueueScheduler",
            "FlowProducer",
            "createQueue",
        ] {
            for (at, _) in sc.calls(callee) {
                found.insert((sc.line(at), "Redis".to_string(), BROKER, pkg.to_string()));
            }
        }
    }
    if ctx.imports_any(&["agenda", "@hokify/agenda"]) {
        for (at, _) in sc.calls("Agenda") {
            if sc.preceded_by_word(at, "new") {
                found.insert((sc.line(at), "MongoDB".to_string(), BROKER, "agenda".into()));
            }
        }
    }
}

/// The server named by the `broker=` argument of a call (a URL literal anywhere in it, such
/// as the default of `os.getenv`), or by its second positional argument.
fn broker_arg(ctx: &Ctx<'_>, open: usize) -> Option<&'static str> {
    let sc = ctx.sc;
    for (s, e) in sc.args(open) {
        let arg = sc.code[s..e].trim_start();
        if !(arg.starts_with("broker") && arg["broker".len()..].trim_start().starts_with('=')) {
            continue;
        }
        return sc
            .lits
            .iter()
            .filter(|l| l.start >= s && l.end <= e)
            .find_map(|l| server_of(&l.value));
    }
    None
}

fn urls_and_cache_backends(ctx: &Ctx<'_>, found: &mut Found) {
    let sc = ctx.sc;
    static CACHE_WORD: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("Cache"));
    for l in &sc.lits {
        let v = l.value.as_str();
        let cache_backend = if CACHE_WORD.find(v.as_bytes()).is_none() {
            None
        } else if v.contains("RedisCache") {
            Some("Redis")
        } else if v.contains("MemcachedCache")
            || v.contains("PyMemcacheCache")
            || v.contains("PyLibMCCache")
        {
            Some("Memcached")
        } else {
            None
        };
        let line = sc.line(l.start);
        if let Some(server) = cache_backend {
            found.insert((line, server.to_string(), CACHE, "cache backend".into()));
            continue;
        }
        let Some(server) = server_of(v) else { continue };
        // What the URL is for, from the code around it (`CELERY_BROKER_URL = …`,
        // `cache: { url: … }`), or from the scheme when it names a broker only.
        let context = context_of(sc, l.start).to_ascii_lowercase();
        let role = if context.contains("broker") || context.contains("queue") {
            Some(BROKER)
        } else if context.contains("cache") {
            Some(CACHE)
        } else if matches!(server, "RabbitMQ" | "Kafka" | "AWS SQS") {
            Some(BROKER)
        } else {
            None
        };
        if let Some(role) = role {
            found.insert((line, server.to_string(), role, "url".into()));
        }
    }
}

/// The line around byte `at`, with the literal contents of other lines left out; also the
/// identifiers of string keys on the line (`"BROKER_URL": "redis://…"`).
fn context_of(sc: &super::super::scan::Scanned, at: usize) -> String {
    let line_no = sc.line(at);
    let start = sc.line_start(line_no).unwrap_or(0);
    let end = sc.code[start..]
        .find('\n')
        .map_or(sc.code.len(), |e| start + e);
    let mut out = sc.code[start..end].to_string();
    for l in sc.lits.iter().filter(|l| l.start >= start && l.end <= end) {
        if !l.value.contains("://") {
            out.push(' ');
            out.push_str(&l.value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::server_of;

    #[test]
    fn url_schemes_name_servers() {
        assert_eq!(server_of("redis://localhost:6379/0"), Some("Redis"));
        assert_eq!(server_of("amqp://guest@rabbit//"), Some("RabbitMQ"));
        assert_eq!(server_of("postgres://x"), None);
        assert_eq!(server_of("redis"), None);
        assert_eq!(server_of("REDIS+SOCKET:///tmp/r.sock"), Some("Redis"));
        assert_eq!(server_of("mongodb+srv://db"), Some("MongoDB"));
        // Only a scheme at the start counts, and a scheme is at most 16 bytes.
        assert_eq!(server_of("the broker is at redis://x"), None);
        assert_eq!(server_of("x redis://x"), None);
        assert_eq!(server_of(&format!("{}://x", "a".repeat(17))), None);
        assert_eq!(server_of("é://x"), None);
    }
}
