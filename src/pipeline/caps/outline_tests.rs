//! Unit tests of `outline` (kept apart so the module stays readable).
use super::*;

fn outline(path: &str, text: &str) -> Outline {
    let lang = if path.ends_with(".py") {
        Language::Py
    } else {
        Language::Ts
    };
    let rec = FileRecord::new(path, lang, "x", text.as_bytes());
    Outline::new(&rec, text)
}

fn defs(o: &Outline) -> Vec<Vec<&str>> {
    o.chunks
        .iter()
        .map(|c| c.defines.iter().map(String::as_str).collect())
        .collect()
}

#[test]
fn python_statements_decorators_and_blocks() {
    let src = "import os\n\nDATABASE_URL = os.environ[\"DATABASE_URL\"]\nengine = create_engine(\n    DATABASE_URL,\n)\n\n@celery.task\ndef send(user_id):\n    db = SessionLocal()\n    return db\n\nclass Base(DeclarativeBase):\n    pass\n\ncelery.conf.beat_schedule = {\n  'x': 1,\n}\ntry:\n    import ujson as json\nexcept ImportError:\n    json = None\n";
    let o = outline("a.py", src);
    assert_eq!(
        defs(&o),
        vec![
            vec![],
            vec!["DATABASE_URL"],
            vec!["engine"],
            vec!["send"],
            vec!["Base"],
            vec![],
            vec!["json"],
        ]
    );
    assert_eq!(o.chunks[5].augments, vec!["celery".to_string()]);
    let send = o.defining("send").next().expect("send");
    assert!(o.sc.code[send.span.start..send.body].starts_with("@celery.task"));
    let refs = o.refs(send.span);
    assert!(refs.contains_key("celery") && refs.contains_key("SessionLocal"));
    assert!(!refs.contains_key("task"), "attributes are not identifiers");
    let block = o.block_at(8).expect("block");
    assert_eq!(
        &o.sc.code[block.start..block.end],
        "@celery.task\ndef send(user_id):\n    db = SessionLocal()\n    return db"
    );
}

#[test]
fn javascript_statements_exports_and_handoffs() {
    let src = "import { Pool } from 'pg';\nconst pool = new Pool({\n  url: process.env.DATABASE_URL,\n});\nexport async function GET() {\n  return pool.query('SELECT 1');\n}\nrouter.get('/x', h);\nexport default router;\nmodule.exports.helper = function () {};\nconst { a, b: c } = require('./x');\n";
    let o = outline("a.ts", src);
    assert_eq!(
        defs(&o),
        vec![
            vec![],
            vec!["pool"],
            vec!["GET"],
            vec![],
            vec!["default"],
            vec!["helper"],
            vec!["a", "c"],
        ]
    );
    assert_eq!(o.chunks[3].augments, vec!["router".to_string()]);
    let get = o.block_at(5).expect("GET body");
    assert!(o.sc.code[get.start..get.end].ends_with("}"));
    let refs = o.refs(get);
    assert_eq!(refs["pool"].attrs, BTreeSet::from(["query".to_string()]));
    let t = outline(
        "t.py",
        "send_welcome_email.delay(1)\nother.delay(1)\nother()\n",
    );
    let r = t.refs(t.all());
    assert!(r["send_welcome_email"].handoff_only);
    assert!(!r["other"].handoff_only);
}
