"""Response models of the ShardedCheckpointLab's JSON API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator


def _one_of(*allowed: int) -> AfterValidator:
    def check(n: int) -> int:
        if n not in allowed:
            raise ValueError(f"choose {' or '.join(map(str, allowed))} ranks")
        return n

    return AfterValidator(check)


# Small worlds only: a class of sixty runs these at once on a laptop.
World = Annotated[int, _one_of(1, 2, 4)]
ManyRanks = Annotated[int, _one_of(2, 4)]
ShardingName = Literal["replicated", "sharded"]
Case = Literal["save", "reshard", "killed", "ddp"]


class RankOutcome(BaseModel):
    rank: int
    exit: int | None = Field(description="the rank process's exit code; -9: killed by SIGKILL")
    ok: bool | None = Field(None, description="None: the rank died before it could say")
    error: str | None = Field(None, description="torch's own message, when the rank failed")
    loss: float | None = None
    save_s: float | None = Field(None, description="seconds this rank spent in dcp.save")


class ShardFile(BaseModel):
    name: str
    bytes: int


class Slice(BaseModel):
    tensor: str
    shape: list[int]
    rows: list[int] = Field(description="[first, end): the rows of the tensor this piece holds")
    file: str
    offset: int
    bytes: int


class Saved(BaseModel):
    ranks: list[RankOutcome]
    files: list[ShardFile]
    complete: bool = Field(description="whether the coordinator wrote .metadata")
    slices: list[Slice] = Field(description="which rows of which tensor live in which file, from .metadata")


class TensorCheck(BaseModel):
    tensor: str
    rows: list[int]
    shape: list[int]
    max_abs_diff: float = Field(description="largest |loaded - saved| over this rank's rows")


class RankLoad(BaseModel):
    rank: int
    exit: int | None = None
    ok: bool | None = None
    error: str | None = None
    tensors: list[TensorCheck] = []
    via: str | None = Field(None, description="the plain torch.save file a world of one loaded through")


class Loaded(BaseModel):
    ranks: list[RankLoad]


class SaveOut(BaseModel):
    save: Saved


class ReshardOut(BaseModel):
    save: Saved
    load: Loaded | None


class KilledOut(BaseModel):
    before: Saved = Field(description="the save at step 4, which completed")
    during: Saved = Field(description="the save at step 8, during which the last rank was SIGKILLed")
    load_error: str = Field(description="what torch says when the cut folder is loaded")
    previous: Loaded = Field(description="the step-4 checkpoint loaded after the crash")


class DdpRank(BaseModel):
    rank: int
    exit: int | None = None
    ok: bool | None = None
    error: str | None = None
    mask_live: list[int] = []
    mask_rank0_state: list[int] = []
    mask_own_state: list[int] = []


class DdpOut(BaseModel):
    ranks: list[DdpRank]
    rank0_only: list[ShardFile]
    every_rank: list[ShardFile]


class ExperimentIn(BaseModel):
    """One experiment on real ranks: it waits in the job queue like a run, then runs."""

    case: Case = Field(
        description="save: train and save on `world` ranks; reshard: then load on `load_world`; "
        "killed: SIGKILL the last rank during a save; ddp: DDP's files and per-rank RNG state"
    )
    world: World = 2
    sharding: ShardingName = "sharded"
    load_world: World = Field(4, description="ranks that load (reshard only); 1: into a plain model")

    @model_validator(mode="after")
    def _has_other_ranks(self) -> ExperimentIn:
        if self.case in ("killed", "ddp") and self.world == 1:
            raise ValueError("choose 2 or 4 ranks: a world of one has no other rank")
        return self


class SaveCase(SaveOut):
    case: Literal["save"]


class ReshardCase(ReshardOut):
    case: Literal["reshard"]


class KilledCase(KilledOut):
    case: Literal["killed"]


class DdpCase(BaseModel):
    case: Literal["ddp"]
    ddp: DdpOut


class ExperimentOut(BaseModel):
    id: str
    status: str = Field(description="queued, running, done, failed or interrupted")
    queue_position: int | None = Field(None, description="1 = next to start, while queued")
    case: Case
    world: int
    sharding: ShardingName
    load_world: int
    error: str | None = Field(None, description="why the experiment failed (time or memory limit, …)")
    result: Annotated[SaveCase | ReshardCase | KilledCase | DdpCase, Field(discriminator="case")] | None = (
        Field(None, description="what the ranks did, once done")
    )
