"""The registry of interactive components that chapters place with
`<div data-component="Name"></div>`. One package per component registers itself here, with
its routes and its interface text (registered into app.i18n as it is declared)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi import APIRouter, Request
from markupsafe import Markup

from app import i18n

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Component:
    """A component's partial is the same for every learner (what belongs to one learner loads
    into it with htmx), so a chapter page is rendered once and served from a cache. `version`
    names what the partial does depend on, if anything (e.g. whether pretraining has finished)."""

    name: str
    # Renders the live partial that replaces the placeholder in a chapter page: (request, lang),
    # and for components that take them, the placeholder's data-* attributes as a third argument.
    render: Callable[..., Markup]
    router: APIRouter | None = None
    # Called once the app (and its job manager) has started, e.g. to queue one-off work.
    on_startup: Callable[[object], None] | None = None
    version: Callable[[Request], object] | None = None
    # Its interface text: tables of language -> key -> text, every language with the same keys.
    strings: tuple[Mapping[str, Mapping[str, str]], ...] = ()


_REGISTRY: dict[str, Component] = {}


def register(component: Component) -> Component:
    for table in component.strings:
        i18n.add(table, owner=component.name)
    _REGISTRY[component.name] = component
    return component


def get(name: str) -> Component | None:
    return _REGISTRY.get(name)


def all_components() -> list[Component]:
    return list(_REGISTRY.values())


def load_builtin() -> None:
    """Import the component modules so that they register themselves."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
