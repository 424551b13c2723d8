"""CheckpointInspector (lesson 6.5): look inside the learner's own, untrusted checkpoint file."""

from fastapi import APIRouter

from app.components import Component, register
from app.components.checkpoint_inspector import api, audit_words, service, strings, views

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)


def _startup(app) -> None:
    settings = app.state.settings
    app.state.inspector_reports = service.make_store(settings)
    app.state.inspector_gate = service.Gate(settings.inspect_waiting_max, settings.uploads_per_session)
    app.state.inspector_reports.sweep(force=True)
    service.sweep_uploads(settings)


register(
    Component(
        name="CheckpointInspector",
        render=views.render_placeholder,
        router=router,
        on_startup=_startup,
        strings=(strings.STRINGS, audit_words.STRINGS),
    )
)
