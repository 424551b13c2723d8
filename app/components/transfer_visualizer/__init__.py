"""TransferLearningVisualizer: real weight transfer between models with different heads."""
from fastapi import APIRouter

from app.components import Component, register
from app.components.transfer_visualizer import api, service, views
from app.ml.catalog import SOURCE_NAMES

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)


def _startup(app) -> None:
    app.state.transfer_cache = service.ViewCache()
    service.ensure_pretrained(app)


def _version(request) -> tuple:
    # The partial says "pretraining…" until the source files exist, then shows the diagram.
    jobs = request.app.state.jobs
    return tuple(service.pretrained_path(jobs, s).exists() for s in SOURCE_NAMES)


register(Component(name="TransferLearningVisualizer", render=views.render_placeholder, router=router,
                   on_startup=_startup, version=_version))
