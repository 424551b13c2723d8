"""SaveLoadLab (lesson 6.2): state_dict vs whole model across a refactor, inside a .pt file, train vs eval."""

from fastapi import APIRouter

from app.components import Component, register
from app.components.save_load_lab import api, strings, views

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)

register(
    Component(name="SaveLoadLab", render=views.render_placeholder, router=router, strings=(strings.STRINGS,))
)
