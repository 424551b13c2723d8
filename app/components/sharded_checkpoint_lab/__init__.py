"""ShardedCheckpointLab (lesson 7.7): a checkpoint saved by N real ranks with DCP, loaded on M,
a rank killed during the save, and DDP's rules for who saves and whose RNG state."""

from fastapi import APIRouter

from app.components import Component, register
from app.components.sharded_checkpoint_lab import api, strings, views

router = APIRouter()
router.include_router(views.router)
router.include_router(api.router)

register(
    Component(
        name="ShardedCheckpointLab",
        render=views.render_placeholder,
        router=router,
        strings=(strings.STRINGS,),
    )
)
