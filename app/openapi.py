"""The OpenAPI schema, completed with the answers the app-wide layers give.

Each route documents its own outcomes (`responses=` on its decorator). Some answers come from
layers every route shares, and are documented here once rather than on every route:
- 403 on a state-changing request: cross-site (app/security.py), or no session yet
  (app/sessions.py); under /api/teach the teacher's key is missing or wrong;
- 415 on a state-changing /api request whose body is not JSON (app/security.py);
- 404 on every route with a path parameter: no such item, or not this browser's (another
  learner's run is "not found", never "forbidden");
- 429 on every request that starts work: a limit of the browser, its address or the queue.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

UNSAFE = {"post", "put", "patch", "delete"}
ERROR = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
        }
    }
}


def _add(operation: dict, status: int, description: str) -> None:
    operation.setdefault("responses", {}).setdefault(str(status), {"description": description, **ERROR})


def complete(schema: dict) -> dict:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in UNSAFE | {"get"} or not isinstance(operation, dict):
                continue
            documented = set(operation.get("responses", {}))
            if "{" in path:
                _add(operation, 404, "not found (or not this browser's)")
            if method in UNSAFE:
                _add(
                    operation,
                    403,
                    "refused: a cross-site request, or no session yet (GET /api/session first)",
                )
                _add(operation, 415, "the body is not of the documented media type")
                if documented & {"201", "202"}:
                    _add(operation, 429, "a limit is reached (this browser's, its address's, or the queue's)")
            if path.startswith("/api/teach"):
                _add(operation, 403, "the teacher's key is missing or wrong")
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title, version=app.version, description=app.description, routes=app.routes
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
