"""TransferLearningVisualizer: real weight transfer between models with different heads."""
from fastapi import APIRouter

from app.components import Component, register
from app.components.transfer_visualizer import api, service, views

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)


def _startup(app) -> None:
    app.state.transfer_cache = service.ViewCache()
    service.ensure_pretrained(app)


register(Component(name="TransferLearningVisualizer", render=views.render_placeholder, router=router,
                   on_startup=_startup))
