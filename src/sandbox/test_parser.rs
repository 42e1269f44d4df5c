//! A parser that misbehaves on request, so tests can prove the sandbox contains each failure.
//!
//! Only a child whose environment has `PROVIS_SANDBOX_TEST_PARSER=1` runs it (see
//! [`child_main`](super::child_main)); children start with a cleared environment, so production
//! never does. A file whose content starts with `//provis-test:<directive> [arg]` triggers:
//!
//! | directive | behaviour |
//! |---|---|
//! | `hang` | spins forever |
//! | `sleep <ms>` | sleeps, then parses normally |
//! | `crash` | aborts the process |
//! | `panic` | panics (the child catches it and survives) |
//! | `stackoverflow` | recurses without end |
//! | `oom` | allocates and touches memory until the address-space limit stops it |
//! | `net <port>` | connects to 127.0.0.1:<port>; symbol `sandboxProbe` = `net:connected` or `net:failed:<error>` |
//! | `write <dir>` | creates `<dir>/escape.txt` and writes to it; symbol `sandboxProbe` says how far it got |
//!
//! Anything else goes to the production parser; every record it returns carries the child's pid
//! in symbol `sandboxChild`, so tests can see which child parsed which file.

use super::child::PRODUCTION_PARSER;
use crate::pipeline::model::FileRecord;
use std::hint::black_box;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Prefix of a directive line.
pub(crate) const DIRECTIVE: &str = "//provis-test:";
/// Symbol key holding the pid of the child that parsed the file.
pub(crate) const CHILD_SYMBOL: &str = "sandboxChild";
/// Symbol key holding the outcome of a `net` or `write` probe.
pub(crate) const PROBE_SYMBOL: &str = "sandboxProbe";

/// The test parse function (see the module docs).
pub(crate) fn parse(path: &str, bytes: &[u8]) -> FileRecord {
    let directive = bytes.strip_prefix(DIRECTIVE.as_bytes()).map(|rest| {
        let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
        String::from_utf8_lossy(line).trim().to_string()
    });
    let (command, arg) = match &directive {
        Some(d) => d.split_once(' ').unwrap_or((d.as_str(), "")),
        None => ("", ""),
    };
    let probe = match command {
        "hang" => loop {
            std::hint::spin_loop();
        },
        "sleep" => {
            std::thread::sleep(Duration::from_millis(arg.trim().parse().unwrap_or(0)));
            None
        }
        "crash" => std::process::abort(),
        "panic" => panic!("provis-test: panic requested by {path}"),
        "stackoverflow" => {
            let depth = recurse(black_box(0));
            Some(format!("stack:returned:{depth}"))
        }
        "oom" => exhaust_memory(),
        "net" => Some(probe_net(arg.trim())),
        "write" => Some(probe_write(arg.trim())),
        _ => None,
    };
    let mut record = PRODUCTION_PARSER(path, bytes);
    record.symbols.insert(
        CHILD_SYMBOL.to_string(),
        vec![std::process::id().to_string().into()],
    );
    if let Some(probe) = probe {
        record
            .symbols
            .insert(PROBE_SYMBOL.to_string(), vec![probe.into()]);
    }
    record
}

/// Recursion that the optimiser cannot turn into a loop: each frame keeps a live buffer.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    if depth == u64::MAX {
        return frame[0];
    }
    let below = recurse(black_box(depth + 1));
    below.wrapping_add(black_box(&frame)[63])
}

/// Grows a heap of touched 16 MiB blocks until allocation fails (which aborts the process).
fn exhaust_memory() -> ! {
    const BLOCK: usize = 16 << 20;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; BLOCK];
        for page in block.iter_mut().step_by(4096) {
            *page = 1;
        }
        hoard.push(block);
        black_box(&hoard);
    }
}

fn probe_net(port: &str) -> String {
    let Ok(port) = port.parse::<u16>() else {
        return format!("net:bad-port:{port}");
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(_) => "net:connected".to_string(),
        Err(e) => format!("net:failed:{e}"),
    }
}

fn probe_write(dir: &str) -> String {
    let target = std::path::Path::new(dir).join("escape.txt");
    let mut file = match std::fs::File::create(&target) {
        Ok(file) => file,
        Err(e) => return format!("write:create-failed:{e}"),
    };
    match file.write_all(b"escaped the sandbox") {
        Ok(()) => "write:written".to_string(),
        Err(e) => format!("write:write-failed:{e}"),
    }
}
