"""What a learner may ask of the transfer visualizer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.components.answer import Answer

Source = Literal["resnet_mini", "convnet_mini"]
Variant = Literal["same_arch", "renamed_head", "dataparallel_prefix", "wider_block"]
Strategy = Literal["shape_filter", "strict", "non_strict", "strip_prefix"]
# A tensor's fate in a load (app.ml.catalog.STATUSES; LoadTotals names each one).
Status = Literal["transferred", "filtered", "not_loaded", "new", "unused"]


class TransferQuery(BaseModel):
    source: Source = "resnet_mini"
    variant: Variant = "same_arch"
    num_classes: int = Field(default=10, ge=2, le=10, description="classes of the target task")
    strategy: Strategy = "shape_filter"

    def key(self) -> tuple[str, str, int, str]:
        return (self.source, self.variant, self.num_classes, self.strategy)


class FinetuneRequest(TransferQuery):
    shots: int = Field(default=10, ge=1, le=50, description="labelled examples per class")
    epochs: int = Field(default=15, ge=2, le=40)
    freeze_backbone: bool = False
    seed: int = Field(default=0, ge=0, le=10_000)


class StoryGroup(BaseModel):
    """Tensors that met the same fate in the same top-level module, in the order the page tells them."""

    fate: str = Field(
        description="transferred, filtered, not_loaded, new, unused; prefix / prefix_shape for a "
        "`module.x` checkpoint key paired with the model's `x`"
    )
    module: str
    tensors: int
    numel: int
    folded: bool = Field(description="folded on the page (nothing to fix there, or one fix covers them all)")
    keys: list[str]


class Comparison(BaseModel):
    """Two loads of the same checkpoint into the same target, with two strategies."""

    strategy_before: Strategy
    strategy_after: Strategy
    ok_before: bool
    ok_after: bool
    totals: dict[str, list[int]] = Field(description="status -> [tensors before, tensors after]")
    changed_keys: list[str]


class PretrainingOut(BaseModel):
    """How far a source model's pretraining has got (None once its file is there)."""

    status: str = Field(description="queued, running, done, failed, interrupted")
    epoch: int
    total: int | None = Field(description="epochs in all, once the first is reported")
    error: str | None
    queue_position: int | None


class SourceOut(BaseModel):
    pretraining: PretrainingOut | None


class VariantOut(BaseModel):
    name: str
    description: str
    expected: str = Field(description="what goes wrong with a naive load, in one line")


class StrategyOut(BaseModel):
    label: str
    description: str
    code: str


class OptionsOut(BaseModel):
    sources: dict[Source, SourceOut]
    variants: dict[Variant, VariantOut]
    strategies: dict[Strategy, StrategyOut]
    all_views_ready: bool = Field(description="every load view is computed and cached")


class FinetuneOut(BaseModel):
    """A fine-tuning comparison (transferred vs from scratch, several seeds), as far as it got."""

    id: str
    status: str = Field(description="queued, running, done, failed, interrupted")
    config: dict = Field(description="the request, with the seeds and the pretrained source's file name")
    error: str | None
    queue_position: int | None
    curves: dict[str, list[dict]] = Field(
        description="per model (transfer, scratch): one row per seed and epoch"
    )
    results: list[dict] = Field(description="per finished seed: both models' results and the margin")
    mean_margin: float | None = Field(description="test accuracy transferred − from scratch, mean over seeds")
    seeds_done: int
    seeds_total: int
    frozen: dict | None = Field(description="with a frozen backbone: how much of it moved (it should not)")


# The load view (app.ml.transfer.LoadReport.to_dict) and one tensor's preview (LoadReport.preview),
# key by key.


class LoadError(Answer):
    type: str
    message: str = Field(description="torch's own words")


class TensorFate(Answer):
    key: str = Field(description="name in the target model (or in the checkpoint, if unused)")
    source_key: str | None = Field(description="name in the checkpoint as given (may carry `module.`)")
    source_shape: list[int] | None
    target_shape: list[int] | None
    status: Status
    numel: int
    is_buffer: bool
    changed: bool | None = Field(description="did loading change the target tensor at all")
    equals_source: bool | None = Field(description="torch.equal(target after loading, source tensor)")


class StatusTotals(Answer):
    tensors: int
    numel: int
    parameters: int = Field(description="numbers in parameters")
    buffers: int = Field(description="numbers in buffers")


class LoadTotals(Answer):
    transferred: StatusTotals
    filtered: StatusTotals
    not_loaded: StatusTotals
    new: StatusTotals
    unused: StatusTotals
    target_parameters: int
    transferred_parameter_fraction: float


class LoadView(Answer):
    """The pretrained source loaded into a fresh target with one strategy: every tensor's fate."""

    strategy: Strategy
    code: str = Field(description="the strategy's loading code")
    ok: bool = Field(description="load_state_dict returned without an exception")
    outcome: Literal["loaded", "loaded_nothing", "raised"] = Field(
        description="loaded_nothing: no exception, yet not one tensor came from the checkpoint"
    )
    error: LoadError | None = Field(
        description="what torch raised (a failed load may still have copied tensors)"
    )
    missing_keys: list[str] | None = Field(description="as load_state_dict returned them (None if it raised)")
    unexpected_keys: list[str] | None
    filter_kept: list[str] | None = Field(description="keys the shape filter let through (filter strategies)")
    filter_dropped: list[str] | None
    rows: list[TensorFate]
    totals: LoadTotals


# The tensor's sides: `source` is absent when the checkpoint has no tensor for the key (a new one).
class Values(Answer):
    before: list[float]
    after: list[float]
    source: list[float] | None = None


class Stats(Answer):
    mean: float
    std: float
    min: float
    max: float


class StatsOfSides(Answer):
    before: Stats
    after: Stats
    source: Stats | None = None


class Histogram(Answer):
    edges: list[float] = Field(description="shared by all sides")
    before: list[int]
    after: list[int]
    source: list[int] | None = None


class TensorPreview(Answer):
    """One tensor before and after loading, and the source's (a key only in the source shows it on every
    side)."""

    key: str
    status: Status
    only_in_source: bool
    shape: list[int]
    numel: int
    dtype: str
    first: Values = Field(description="the leading values")
    stats: StatsOfSides
    histogram: Histogram
    after_equals_source: bool
    after_equals_before: bool
    changed_fraction: float
