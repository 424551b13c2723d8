"""LoadingClinic (lesson 6.5): real loading errors, each with its fix and the evidence it works."""

from fastapi import APIRouter

from app.components import Component, register
from app.components.loading_clinic import api, strings, views

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)

register(
    Component(
        name="LoadingClinic", render=views.render_placeholder, router=router, strings=(strings.STRINGS,)
    )
)
