"""Property-based requests over the app's own /openapi.json: no 5xx, no status code the schema
does not document, and every answer within its documented schema. Bounded: a fixed seed
(derandomized), a few examples per operation, one training worker, loopback only (in-process ASGI)."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance


@pytest.fixture(scope="module")
def lab_app(tmp_path_factory, pretrained_dir):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    settings = Settings(data_dir=tmp_path_factory.mktemp("st") / "data", tutorials_dir=REPO / "tutorials",
                        secret_key="t", pretrained_dir=pretrained_dir, transfer_prewarm=False, max_workers=1)
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
        @hsettings(max_examples=examples, derandomize=True, deadline=None, database=None,
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def check(case):
            sent[0] += 1
            try:
                case.call_and_validate(headers={"Cookie": lab_app.test_cookie},
                                       checks=[not_a_server_error, status_code_conformance,
                                               response_schema_conformance])
            except BaseException as exc:  # noqa: BLE001 - collected (failures come as exception groups)
                problems.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:300]}")

        check()
    print(f"{sent[0]} requests over {len(operations)} operations")
    assert not problems, "\n".join(sorted(set(problems)))
