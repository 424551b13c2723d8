"""Templates are compiled when the server starts, not when a class first asks for them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from app.templating import templates


def _compiled() -> set[str]:
    # Jinja's template cache is keyed by (a weak reference to the loader, the template's name).
    return {key[1] for key in templates.env.cache}


def test_start_up_compiles_every_template(settings):
    templates.env.cache.clear()
    names = set(templates.env.list_templates(extensions=("html",)))
    assert "checkpoint_simulator/live.html" in names and "teacher/board.html" in names
    with TestClient(create_app(settings)):
        # Nothing was asked of the server yet: whatever is compiled, start-up compiled.
        assert names <= _compiled()
