"""Route table of a Python web app from the framework's own introspection of the loaded app.

Usage: truth_py.py fastapi MODULE:ATTR        (FastAPI/Starlette app.routes, Mounts followed)
       truth_py.py flask   MODULE:FACTORY()  (Flask url_map; MODULE:ATTR for an app object)
       truth_py.py django  SETTINGS_MODULE   (Django's URL resolver, includes followed)

Prints JSON: [{"method", "path", "module"}] where `module` is the module of the endpoint
(used to tell the app's own routes from those an installed library adds).
"""
import importlib
import inspect
import json
import sys


def load(target):
    mod, _, attr = target.partition(":")
    call = attr.endswith("()")
    attr = attr[:-2] if call else attr
    obj = getattr(importlib.import_module(mod), attr)
    return obj() if call else obj


def module_of(fn):
    # A class-based view's function carries its class (`view_class`, DRF's `cls`) on the
    # outermost wrapper (csrf_exempt copies it there), not always on the function inside.
    cls = getattr(fn, "view_class", None) or getattr(fn, "cls", None)
    fn = inspect.unwrap(fn) if callable(fn) else fn
    cls = cls or getattr(fn, "view_class", None) or getattr(fn, "cls", None)
    return getattr(cls or fn, "__module__", "") or ""


def fastapi(target):
    from starlette.routing import Mount, Route, WebSocketRoute

    out = []

    def walk(routes, prefix):
        for r in routes:
            if hasattr(r, "effective_route_contexts"):
                # FastAPI >= 0.16x keeps an included router as one entry: its effective routes.
                for ctx in r.effective_route_contexts():
                    route = ctx.starlette_route or ctx.original_route
                    if isinstance(route, WebSocketRoute):
                        methods = ["WEBSOCKET"]
                    else:
                        methods = sorted(getattr(route, "methods", None) or ["ANY"])
                    for m in methods:
                        out.append({"method": m, "path": prefix + ctx.path, "module": module_of(ctx.endpoint)})
            elif isinstance(r, Mount):
                sub = getattr(r, "routes", None) or []
                if sub:
                    walk(sub, prefix + r.path)
                else:
                    out.append({"method": "ANY", "path": prefix + r.path, "module": module_of(r.app)})
            elif isinstance(r, WebSocketRoute):
                out.append({"method": "WEBSOCKET", "path": prefix + r.path, "module": module_of(r.endpoint)})
            elif isinstance(r, Route) or hasattr(r, "methods"):
                for m in sorted(r.methods or ["ANY"]):
                    out.append({"method": m, "path": prefix + r.path, "module": module_of(r.endpoint)})

    walk(load(target).routes, "")
    return out


def flask(target):
    app = load(target)
    out = []
    for rule in app.url_map.iter_rules():
        fn = app.view_functions.get(rule.endpoint)
        for m in sorted(rule.methods or ["ANY"]):
            out.append({"method": m, "path": rule.rule, "module": module_of(fn)})
    return out


def django(settings):
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    import django as dj

    dj.setup()
    from django.urls import URLPattern, URLResolver, get_resolver

    out = []

    # A pattern belongs to the urlconf module that declares it; patterns of an included list
    # (`admin.site.urls`, a registry's get_urls()) are known only by their view's module.
    def walk(patterns, prefix, declared):
        for p in patterns:
            if isinstance(p, URLResolver):
                mod = p.urlconf_module
                name = getattr(mod, "__name__", None) if inspect.ismodule(mod) else None
                walk(p.url_patterns, prefix + str(p.pattern), name)
            elif isinstance(p, URLPattern):
                module = declared or module_of(p.callback)
                out.append({"method": "ANY", "path": prefix + str(p.pattern), "module": module})

    from django.conf import settings as s

    walk(get_resolver().url_patterns, "", s.ROOT_URLCONF)
    return out


if __name__ == "__main__":
    kind, target = sys.argv[1], sys.argv[2]
    # Apps print while they load: keep stdout for the table.
    real, sys.stdout = sys.stdout, sys.stderr
    table = {"fastapi": fastapi, "flask": flask, "django": django}[kind](target)
    json.dump(table, real, indent=1)
