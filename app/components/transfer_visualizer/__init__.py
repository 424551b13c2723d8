"""TransferLearningVisualizer: real weight transfer between models with different heads."""

import threading

from fastapi import APIRouter

from app.components import Component, register
from app.components.transfer_visualizer import api, service, strings, views
from app.ml.catalog import SOURCE_NAMES

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)


def _startup(app) -> None:
    # 2 sources x 4 variants x 9 class counts x 4 strategies = 288 answers: all of them fit.
    app.state.transfer_cache = service.ViewCache(size=512)
    app.state.transfer_prewarmed = False
    service.ensure_pretrained(app)
    if not app.state.settings.transfer_prewarm:
        return
    stop = threading.Event()
    app.state.shutdown_hooks.append(lambda a: stop.set())
    threading.Thread(target=_prewarm, args=(app, stop), name="transfer-prewarm", daemon=True).start()


def _prewarm(app, stop: threading.Event) -> None:
    if service.prewarm(app, stop):
        views.prerender(app, stop)
        app.state.transfer_prewarmed = not stop.is_set()


def _version(request) -> tuple:
    # The partial says "pretraining…" until the source files exist, then shows the diagram.
    # Once they all exist they stay (pretraining runs at startup only): the chapter page, which
    # asks on every request, then stops asking the disk.
    state = request.app.state
    if getattr(state, "transfer_sources_ready", False):
        return (True,) * len(SOURCE_NAMES)
    ready = tuple(service.pretrained_path(state.jobs, s).exists() for s in SOURCE_NAMES)
    state.transfer_sources_ready = all(ready)
    return ready


register(
    Component(
        name="TransferLearningVisualizer",
        render=views.render_placeholder,
        router=router,
        on_startup=_startup,
        version=_version,
        strings=(strings.STRINGS,),
    )
)
