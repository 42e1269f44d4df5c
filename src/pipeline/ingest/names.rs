//! Entry-name rules shared by the zip and directory sources (see the module docs of
//! [`super`] for the decisions).

use super::{RejectCode, ZipRejection, HEAVY_DIRS};

/// Splits a stored entry name into its normalised components, or says which rule it breaks.
/// `name` is the name as stored; it is also what the rejection names.
pub(crate) fn normalize(name: &str) -> Result<Vec<String>, ZipRejection> {
    let reject = |code: RejectCode, why: &str| {
        Err(ZipRejection::entry(
            code,
            name,
            format!("entry {:?}: {why}", name),
        ))
    };
    if name.is_empty() {
        return reject(RejectCode::InvalidName, "empty name");
    }
    if name.chars().any(|c| c.is_control()) {
        return reject(
            RejectCode::InvalidName,
            "control character (NUL, newline, …) in the name",
        );
    }
    let unified = name.replace('\\', "/");
    if unified.starts_with('/') {
        return reject(RejectCode::AbsolutePath, "absolute path");
    }
    let bytes = unified.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return reject(RejectCode::DriveLetter, "path starts with a drive letter");
    }
    let mut parts = Vec::new();
    for part in unified.split('/') {
        match part {
            "" | "." => continue,
            ".." => return reject(RejectCode::PathTraversal, "`..` component"),
            _ if is_reserved(part) => {
                return reject(
                    RejectCode::ReservedName,
                    &format!("{part:?} is a Windows reserved device name"),
                )
            }
            _ => parts.push(part.to_owned()),
        }
    }
    Ok(parts)
}

/// Whether a component is a Windows reserved device name: its part before the first `.`,
/// trailing spaces trimmed, compared case-insensitively.
pub(crate) fn is_reserved(component: &str) -> bool {
    let stem = component
        .split('.')
        .next()
        .unwrap_or(component)
        .trim_end_matches(' ')
        .to_ascii_uppercase();
    if matches!(
        stem.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) {
        return true;
    }
    let digits = stem
        .strip_prefix("COM")
        .or_else(|| stem.strip_prefix("LPT"));
    match digits {
        Some(d) => {
            matches!(d, "¹" | "²" | "³") || (d.len() == 1 && d.as_bytes()[0].is_ascii_digit())
        }
        None => false,
    }
}

/// Index of the first component naming a [`HEAVY_DIRS`] directory, looking only at directory
/// components (all of them for a directory, all but the last for a file).
pub(crate) fn heavy_dir_at(parts: &[String], is_dir: bool) -> Option<usize> {
    let dir_parts = if is_dir {
        parts.len()
    } else {
        parts.len().saturating_sub(1)
    };
    parts[..dir_parts]
        .iter()
        .position(|p| HEAVY_DIRS.contains(&p.as_str()))
}

/// The wrapper directory to strip: the one first component every entry shares, provided every
/// file sits below it. Entries under a top-level `__MACOSX` do not count. `entries` yields
/// (components, is_dir).
pub(crate) fn common_top_dir<'a>(
    entries: impl Iterator<Item = (&'a [String], bool)>,
) -> Option<String> {
    let mut top: Option<&str> = None;
    let mut any_file = false;
    for (parts, is_dir) in entries {
        let Some(first) = parts.first() else { continue };
        if first == "__MACOSX" {
            continue;
        }
        if !is_dir {
            if parts.len() < 2 {
                return None;
            }
            any_file = true;
        }
        match top {
            None => top = Some(first),
            Some(t) if t == first => {}
            Some(_) => return None,
        }
    }
    if any_file {
        top.map(str::to_owned)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(name: &str) -> Option<RejectCode> {
        normalize(name).err().map(|e| e.code)
    }

    #[test]
    fn normalises_separators_and_dots() {
        assert_eq!(
            normalize("./a//b\\c.txt").ok(),
            Some(vec!["a".into(), "b".into(), "c.txt".into()])
        );
        assert_eq!(normalize("dir/").ok(), Some(vec!["dir".into()]));
        assert_eq!(normalize("a..b.txt").ok(), Some(vec!["a..b.txt".into()]));
    }

    #[test]
    fn each_name_rule_has_its_code() {
        assert_eq!(code("a/../b"), Some(RejectCode::PathTraversal));
        assert_eq!(code("..\\x"), Some(RejectCode::PathTraversal));
        assert_eq!(code("/etc/passwd"), Some(RejectCode::AbsolutePath));
        assert_eq!(code("\\\\server\\share"), Some(RejectCode::AbsolutePath));
        assert_eq!(code("C:\\x"), Some(RejectCode::DriveLetter));
        assert_eq!(code("c:x"), Some(RejectCode::DriveLetter));
        assert_eq!(code("a/con.txt"), Some(RejectCode::ReservedName));
        assert_eq!(code("Aux/b"), Some(RejectCode::ReservedName));
        assert_eq!(code("lpt9"), Some(RejectCode::ReservedName));
        assert_eq!(code("COM¹.py"), Some(RejectCode::ReservedName));
        assert_eq!(code("a\0b"), Some(RejectCode::InvalidName));
        assert_eq!(code("a\nb"), Some(RejectCode::InvalidName));
        assert_eq!(code(""), Some(RejectCode::InvalidName));
        for ok in [
            "console.js",
            "com10",
            "auxiliary.py",
            "nul_check.py",
            "ab:c",
        ] {
            assert_eq!(code(ok), None, "{ok}");
        }
    }

    #[test]
    fn top_dir_needs_every_file_below_it() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = [
            v(&["r"]),
            v(&["r", "x.py"]),
            v(&["__MACOSX", "r", "._x.py"]),
        ];
        let dirs = [true, false, false];
        let it = a.iter().zip(dirs).map(|(p, d)| (p.as_slice(), d));
        assert_eq!(common_top_dir(it), Some("r".into()));
        let b = [v(&["r", "x.py"]), v(&["y.py"])];
        assert_eq!(
            common_top_dir(b.iter().map(|p| (p.as_slice(), false))),
            None
        );
        let c = [v(&["r"])];
        assert_eq!(common_top_dir(c.iter().map(|p| (p.as_slice(), true))), None);
    }

    #[test]
    fn heavy_dirs_only_match_directories() {
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            heavy_dir_at(&p(&["a", "node_modules", "x.js"]), false),
            Some(1)
        );
        assert_eq!(heavy_dir_at(&p(&["a", "venv"]), false), None);
        assert_eq!(heavy_dir_at(&p(&["a", "venv"]), true), Some(1));
    }
}
