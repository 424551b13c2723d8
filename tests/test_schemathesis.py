"""Property-based requests over the app's own /openapi.json: no 5xx, no status code the schema
does not document, and every answer within its documented schema. Bounded: a fixed seed
(derandomized), a few examples per operation, one training worker, loopback only (in-process ASGI)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance


@pytest.fixture(scope="module")
def lab_app(tmp_path_factory, pretrained_dir):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("st") / "data",
        tutorials_dir=REPO / "tutorials",
        secret_key="t",
        pretrained_dir=pretrained_dir,
        transfer_prewarm=False,
        max_workers=1,
    )
    app = create_app(settings)
    with TestClient(app) as client:  # runs the lifespan: the job manager and the stores are live
        client.get("/api/session")
        app.test_cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        yield app


def test_api_answers_within_its_schema(lab_app):
    """Every operation, a dozen generated requests each, as a learner's browser would send them
    (with its session cookie: runs and uploads need one)."""
    from hypothesis import given

    schema = schemathesis.openapi.from_asgi("/openapi.json", lab_app)
    problems: list[str] = []
    sent = [0]
    # A dozen per operation in the suite; SCHEMATHESIS_EXAMPLES=1000 runs the same check at scale.
    examples = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @hsettings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            sent[0] += 1
            try:
                case.call_and_validate(
                    headers={"Cookie": lab_app.test_cookie},
                    checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
                )
            except BaseException as exc:
                problems.append(f"{case.operation.method.upper()} {case.operation.path}: {str(exc)[:300]}")

        check()
    print(f"{sent[0]} requests over {len(operations)} operations")
    assert not problems, "\n".join(sorted(set(problems)))


def _typed(schema: dict) -> bool:
    """A schema that says what comes: a $ref to a model, a union of typed schemas, an array of
    typed items, an object with properties or typed values, or a scalar type. A route returning a
    plain `dict` documents {"type": "object", "additionalProperties": true}: not typed."""
    if "$ref" in schema:
        return True
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            return all(_typed(s) for s in schema[union])
    if schema.get("type") == "array":
        return _typed(schema.get("items") or {})
    if schema.get("type") == "object":
        values = schema.get("additionalProperties")
        return bool(schema.get("properties")) or (isinstance(values, dict) and _typed(values))
    return "type" in schema or "const" in schema or "enum" in schema


def test_every_json_answer_of_the_api_is_typed(tmp_path):
    """/docs shows typed results: every /api operation that answers application/json with a 2xx
    documents a schema. Downloads and streams are told apart by the media type they document
    (a FileResponse says application/octet-stream, an event stream text/event-stream), so only
    application/json answers are looked at; a 204 documents no content at all."""
    from app.main import create_app
    from app.settings import Settings

    spec = create_app(Settings(data_dir=tmp_path / "data", secret_key="t")).openapi()
    untyped, looked_at = [], 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if not status.startswith("2") or schema is None:
                    continue
                looked_at += 1
                if not _typed(schema):
                    untyped.append(f"{method.upper()} {path} {status}: {schema}")
    assert looked_at >= 40
    assert not untyped, "answers documented without a schema (set response_model=):\n" + "\n".join(untyped)


def test_the_typing_check_knows_an_untyped_answer():
    assert not _typed({"type": "object", "additionalProperties": True, "title": "Response Save"})
    assert not _typed({})
    assert not _typed({"type": "array", "items": {}})
    assert not _typed({"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "object"}]})
    assert _typed({"$ref": "#/components/schemas/RunOut"})
    assert _typed({"type": "object", "additionalProperties": {"$ref": "#/components/schemas/PtFile"}})
    assert _typed({"type": "array", "items": {"$ref": "#/components/schemas/StoryGroup"}})
