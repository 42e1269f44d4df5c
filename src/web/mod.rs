//! The web page (`GET /`, docs/http-api.md): a single-page app of plain JavaScript modules,
//! embedded in the binary so `serve` and `all-in-one` show it with no files beside them and no CDN.
//!
//! The page talks to the same REST and SSE API as any client (with the bearer token the user
//! types in, when the server has one). Third-party code is vendored from npm, pinned, with its
//! licence next to it (`vendor/VENDORED.md`); nothing is built at `cargo build` time.

/// One embedded file of the page.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its name under `/ui/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page itself, served at `/`.
pub const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("index.html"),
};

/// Everything the page loads from `/ui/{name}`.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_bytes!("app.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_bytes!("api.js"),
    },
    Asset {
        name: "views.js",
        content_type: JS,
        body: include_bytes!("views.js"),
    },
    Asset {
        name: "graph.js",
        content_type: JS,
        body: include_bytes!("graph.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("style.css"),
    },
    Asset {
        name: "cytoscape.esm.min.mjs",
        content_type: JS,
        body: include_bytes!("vendor/cytoscape.esm.min.mjs"),
    },
    Asset {
        name: "cytoscape.LICENSE.txt",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("vendor/cytoscape.LICENSE"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("favicon.svg"),
    },
];

/// The asset called `name`, if the page has one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_names_is_embedded() {
        let index = std::str::from_utf8(INDEX.body).expect("utf8");
        let mut named = 0;
        for part in index.split("/ui/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .collect();
            assert!(asset(&name).is_some(), "index.html loads /ui/{name}");
            named += 1;
        }
        assert!(named >= 2, "index.html loads its script and style");
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).expect("utf8");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split('\'').nth(1) else {
                    continue;
                };
                let name = spec.trim_start_matches("./");
                assert!(asset(name).is_some(), "{} imports {spec}", a.name);
            }
        }
    }
}
