"""CheckpointSimulator: train a tiny model for real, crash it with SIGKILL, resume and compare."""

from fastapi import APIRouter

from app.components import Component, register
from app.components.checkpoint_simulator import api, data_order, explain, service, strings, views

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)

register(
    Component(
        name="CheckpointSimulator",
        render=views.render_placeholder,
        router=router,
        on_startup=service.on_startup,
        strings=(strings.STRINGS, data_order.STRINGS, explain.STRINGS),
    )
)
