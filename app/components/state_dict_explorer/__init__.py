"""StateDictExplorer (lesson 6.1): a real model's state_dict, and that it holds references."""

from fastapi import APIRouter

from app.components import Component, register
from app.components.state_dict_explorer import api, strings, views

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)

register(
    Component(
        name="StateDictExplorer", render=views.render_placeholder, router=router, strings=(strings.STRINGS,)
    )
)
