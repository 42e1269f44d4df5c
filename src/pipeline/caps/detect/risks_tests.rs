//! Unit tests of the text searches of `risks` and `infra` (kept apart so `tests` stays short).
use super::tests::Snap;
use super::*;

/// The lines of a file's risks with `code` (one per line: risks are deduplicated).
fn lines_of(det: &Detections, file: &str, code: &str) -> Vec<u32> {
    det.facts[file]
        .risks
        .iter()
        .filter(|r| r.code == code)
        .map(|r| r.line)
        .collect()
}

#[test]
fn risky_settings_are_found_at_every_place_in_code_only() {
    let mut s = Snap::new();
    s.file(
        "web/view.tsx",
        "const a = <div dangerouslySetInnerHTML={x} />;\n// dangerouslySetInnerHTML in a comment\nel.innerHTML = y; b.innerHTML = z;\nconst agent = { rejectUnauthorized: false };\nconst s = 'NODE_TLS_REJECT_UNAUTHORIZED';\nlet dangerouslySetInnerHTMLdangerouslySetInnerHTML;\n",
        &[],
    );
    s.file(
        "app/client.py",
        "requests.get(u, verify=False)\nrequests.get(u, verify=True)\napp.run(debug=True)\n# verify=False\n@csrf_exempt\ndef v(): pass\n",
        &[],
    );
    let det = s.detect();
    assert_eq!(lines_of(&det, "web/view.tsx", "xss"), vec![1, 3, 6]);
    // A string's contents are blanked: the literal does not count, the object key does.
    assert_eq!(lines_of(&det, "web/view.tsx", "tls"), vec![4]);
    assert_eq!(lines_of(&det, "app/client.py", "tls"), vec![1]);
    assert_eq!(lines_of(&det, "app/client.py", "debug"), vec![3]);
    assert_eq!(lines_of(&det, "app/client.py", "csrf"), vec![5]);
}

#[test]
fn cache_backends_and_broker_urls_come_from_literals() {
    let mut s = Snap::new();
    s.file(
        "proj/settings.py",
        "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.redis.RedisCache'}}\nCELERY_BROKER_URL = 'amqp://guest@rabbit//'\nHOME = 'https://example.com'\nNOTE = 'see redis://x for the cache'\n",
        &[],
    );
    let det = s.detect();
    let mut infra: Vec<(u32, &str, &str)> = det
        .in_file("proj/settings.py")
        .filter(|f| f.kind == FindingKind::Infra)
        .map(|f| (f.line, f.name.as_str(), f.detail.as_str()))
        .collect();
    infra.dedup();
    assert_eq!(
        infra,
        vec![(1, "Redis", infra::CACHE), (2, "RabbitMQ", infra::BROKER)],
        "{infra:?}"
    );
}
