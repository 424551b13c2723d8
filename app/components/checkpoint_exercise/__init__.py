"""CheckpointExercise: the learner writes the checkpoint code, the server trains with it in a
sandbox, SIGKILLs it, resumes with the learner's loader and proves whether the result is
bit-identical to an uninterrupted run."""
from fastapi import APIRouter

from app.components import Component, register
from app.components.checkpoint_exercise import api, views

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)

register(Component(name="CheckpointExercise", render=views.render_placeholder, router=router))
