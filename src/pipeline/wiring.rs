//! How a file wires routers together: the per-file facts route composition needs once imports
//! are resolved across the snapshot.
//!
//! A parser sees one file. It records the routers the file creates (with their own prefix),
//! the mounts it makes (`app.use('/api', users)`, `include_router(r, prefix=…)`,
//! `include("a.urls")`), and which local names come from other modules. After resolution,
//! [`crate::pipeline::routing::compose_routes`] follows those facts across files, gives every
//! route its full path and mount chain, and clears this record: it is working data, never part
//! of an artifact.
//!
//! Names: every router, route and mount is keyed by an *owner*, a name local to its file — the
//! variable holding the router (`router`, `bp`, `app`), or, for code that receives its router
//! as a parameter (`module.exports = (app) => { app.get(…) }`, a Fastify plugin), the label of
//! the enclosing top-level function (`default` for a default export). Django urlconfs use the
//! owner [`URLPATTERNS`].

use crate::pipeline::model::Name;
use serde::{Deserialize, Serialize};

/// Owner name of a Django urlconf module's own patterns.
pub const URLPATTERNS: &str = "urlpatterns";

/// Per-file wiring facts (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wiring {
    /// Routers, apps and blueprints created in the file, with their own prefix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routers: Vec<RouterDecl>,
    /// Mounts made in the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Local names bound to another module under a different name (default, namespace and
    /// aliased imports, `require` assignments, re-exports). Same-name imports are read from
    /// the file's imports instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<Binding>,
    /// Exported names that differ from the local they export (`export default router` →
    /// `default` → `router`; a function returning a router → the function → the router).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Alias>,
    /// Framework-wide settings made in the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<Setting>,
    /// Owner names that are function labels, not variables: they name a unit of this file
    /// even where a variable of the same name is bound to an import
    /// (`const keys = require('./keys'); module.exports = { keys() { … } }`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Routes declared on a name that may as well be an HTTP client (`route`, `api`) in a
    /// file that imports no server framework: they become routes only if that object is
    /// mounted somewhere (`require('./tags')(router)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tentative: Vec<crate::pipeline::model::Route>,
    /// Exported module-level string constants by dotted name (`API_PREFIX`, `PREFIX.WEB`):
    /// what another file's prefix may name through an import.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consts: Vec<(String, String)>,
    /// Prefixes that name a constant this file does not define, by the line of their mount
    /// (0: Nest's global prefix): composition looks the name up through the file's imports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix_refs: Vec<(u32, String)>,
    /// Module-level config objects shaped as routes (`export const getUser = { method: 'GET',
    /// url: '/users/:id', handler }`): what a `X.route(getUser)` declares, in this file or in
    /// one that imports the object, perhaps through a barrel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_objects: Vec<RouteObject>,
    /// Routes declared by naming a config object (`i.route(getUser)`): owner, framework and
    /// line are this file's, `path` is the dotted name of the object, `method` is empty.
    /// Composition replaces each with the object's routes once the name is followed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_refs: Vec<crate::pipeline::model::Route>,
}

impl Wiring {
    /// True when the file wires nothing.
    pub fn is_empty(&self) -> bool {
        self.routers.is_empty()
            && self.mounts.is_empty()
            && self.bindings.is_empty()
            && self.aliases.is_empty()
            && self.settings.is_empty()
            && self.labels.is_empty()
            && self.tentative.is_empty()
            && self.consts.is_empty()
            && self.prefix_refs.is_empty()
            && self.route_objects.is_empty()
            && self.route_refs.is_empty()
    }
}

/// A config object shaped as one or more routes, by the name it is declared under.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteObject {
    /// The `const` it is declared under.
    pub name: String,
    /// Its routes: method, path as written, handler (the object's name when inline), line.
    pub routes: Vec<crate::pipeline::model::Route>,
}

/// A router-like object created in the file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterDecl {
    /// Owner name (the variable, `this.router` → `router`).
    pub name: String,
    /// Its own prefix (koa-router `prefix`, `APIRouter(prefix=…)`, `Blueprint(url_prefix=…)`),
    /// literal parts only.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// The own prefix is not a literal.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dynamic: bool,
    /// How prefixes join onto this router's paths.
    pub join: Join,
    /// 1-based line of the creation.
    pub line: u32,
}

/// How a prefix is put in front of a path; each framework has its own rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Join {
    /// One `/` between the parts; a path of `/` under a prefix is the prefix (Express,
    /// koa-mount, Fastify, NestJS).
    #[default]
    Slash,
    /// Flask: `prefix.rstrip('/') + '/' + path.lstrip('/')`, an empty path is the prefix.
    Flask,
    /// Plain concatenation (FastAPI/Starlette, Django).
    Concat,
    /// koa-router `Layer.setPrefix`: concatenation, except a path of exactly `/` becomes the
    /// prefix and an empty path stays empty.
    KoaRouter,
}

/// A mount: `target` is attached to `parent` under `prefix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    /// Owner name of what is mounted on (`app`, `router`; [`URLPATTERNS`] for Django).
    pub parent: String,
    /// What is mounted.
    pub target: Target,
    /// Literal parts of the prefix (`""` when none).
    #[serde(default)]
    pub prefix: String,
    /// The prefix is not (entirely) a literal.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dynamic: bool,
    /// How the prefix joins the target's paths.
    pub join: Join,
    /// Flask `register_blueprint(bp, url_prefix=…)`: the given prefix replaces the
    /// blueprint's own.
    #[serde(default, skip_serializing_if = "is_false")]
    pub replaces_own: bool,
    /// 1-based line of the mount.
    pub line: u32,
}

/// What a mount attaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "name")]
pub enum Target {
    /// A name in the file's scope, possibly dotted (`users`, `items.router`).
    Name(String),
    /// The value a call of a name returns (`createRouter(deps)`).
    CallOf(String),
    /// An inline import (`require('./x')`, `require('./x').router`): specifier and member.
    Module(String, Option<String>),
    /// An absolute Python module (Django `include("app.urls")`).
    Dotted(String),
}

/// A local name bound to another module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// The local name.
    pub local: Name,
    /// The import specifier as written (same as the import's `raw`).
    pub source: Name,
    /// The imported name (`default`, `router`); `None` for the module object itself
    /// (`import * as x`, `const x = require('./x')`, Python `import a.b as x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// Set for a re-export (`export { default as users } from './users'`): `local` is then
    /// the exported name.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reexport: bool,
}

/// `name` (an export, or a function) stands for the local `local`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alias {
    /// Exported name or function name.
    pub name: String,
    /// The local it stands for.
    pub local: String,
}

/// A framework-wide setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Setting {
    /// NestJS `app.setGlobalPrefix(prefix, { exclude })`.
    #[serde(rename_all = "camelCase")]
    NestGlobalPrefix {
        /// The prefix.
        prefix: String,
        /// Excluded paths (as written, no leading `/` required).
        exclude: Vec<String>,
        /// The prefix is not a literal.
        dynamic: bool,
    },
    /// NestJS `app.enableVersioning({ type: VersioningType.URI, prefix, defaultVersion })`;
    /// other versioning types do not change paths and are not recorded.
    #[serde(rename_all = "camelCase")]
    NestUriVersioning {
        /// Segment prefix (default `v`).
        prefix: String,
        /// Default versions (empty: version-neutral).
        default_versions: Vec<String>,
    },
    /// NestJS `@Module({ controllers: [...] })` on class `name`.
    #[serde(rename_all = "camelCase")]
    NestModule {
        /// Module class.
        name: String,
        /// Controller names as written.
        controllers: Vec<String>,
        /// 1-based line of the decorator.
        line: u32,
    },
    /// NestJS versions of a controller (`@Controller({ version })`, owner = class) or of one
    /// handler (`@Version(…)`, `line` = its route's line).
    #[serde(rename_all = "camelCase")]
    NestVersion {
        /// Controller class.
        owner: String,
        /// Line of the handler's route; 0 for the whole controller.
        line: u32,
        /// Versions (`VERSION_NEUTRAL` as written).
        versions: Vec<String>,
    },
    /// Next.js `basePath` in next.config.
    #[serde(rename_all = "camelCase")]
    NextBasePath {
        /// The base path.
        path: String,
    },
    /// A route whose methods are those its view class implements (Flask-RESTful
    /// `add_resource(Cls, …)`, Flask `add_url_rule(…, view_func=Cls.as_view(…))`): the
    /// route at `line` is declared with method `ANY` until the class is found.
    #[serde(rename_all = "camelCase")]
    ClassView {
        /// Line of the route.
        line: u32,
        /// The class, as written.
        class: String,
    },
    /// Django `app_name = "…"` of a urlconf (its namespace, and the unit name).
    #[serde(rename_all = "camelCase")]
    DjangoAppName {
        /// The name.
        name: String,
    },
    /// A Django view written `X.urls` (`path("x/", mailman.urls)`): a mount of a pattern list
    /// (`admin.site.urls`, `router.urls`) — unless `target` turns out to be a plain function
    /// of the project, which is then the view of `route`.
    #[serde(rename_all = "camelCase")]
    DjangoUrlsView {
        /// What `X.urls` names.
        target: Target,
        /// The route it is when it names a function (its unit: the pattern list).
        route: crate::pipeline::model::Route,
    },
    /// Django REST framework `router.register(prefix, ViewSet)`: the route at `line` (the
    /// prefix, method `ANY`) stands for the routes the router generates from the viewset's
    /// actions, found once the class is (see `routing::drf`).
    #[serde(rename_all = "camelCase")]
    DrfViewSet {
        /// Line of the registration (and of its placeholder route).
        line: u32,
        /// The viewset class, as written.
        class: String,
        /// The router's `trailing_slash` (`"/"` by default, `""` when turned off).
        trailing_slash: String,
        /// A `DefaultRouter`: every route also answers with a `.<format>` suffix.
        format_suffix: bool,
    },
    /// Django REST framework `@action(detail=…, url_path=…)` on method `method` of class
    /// `class` declared in this file: an extra route of every router that registers it.
    #[serde(rename_all = "camelCase")]
    DrfAction {
        /// The viewset class.
        class: String,
        /// The decorated method.
        method: String,
        /// `detail=True`: under the object's lookup (`prefix/<pk>/url_path`).
        detail: bool,
        /// The URL segment (`url_path=`, else the method name).
        url_path: String,
    },
}

fn is_false(v: &bool) -> bool {
    !*v
}
