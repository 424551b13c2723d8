"""CheckpointExercise: the learner writes the checkpoint code, the server trains with it in a
sandbox, SIGKILLs it, resumes with the learner's loader and proves whether the result is
bit-identical to an uninterrupted run."""

import threading

from fastapi import APIRouter

from app.components import Component, register
from app.components.checkpoint_exercise import api, strings, views
from app.jobs import code_sandbox

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)


def _probe(app) -> None:
    # Whether bubblewrap works here is asked once, in the background, not by the first page.
    threading.Thread(target=code_sandbox.availability, name="bwrap-probe", daemon=True).start()


register(
    Component(
        name="CheckpointExercise",
        render=views.render_placeholder,
        router=router,
        on_startup=_probe,
        strings=(strings.STRINGS,),
    )
)
