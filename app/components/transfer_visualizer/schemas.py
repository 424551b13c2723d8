"""What a learner may ask of the transfer visualizer."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Source = Literal["resnet_mini", "convnet_mini"]
Variant = Literal["same_arch", "renamed_head", "dataparallel_prefix", "wider_block"]
Strategy = Literal["shape_filter", "strict", "non_strict", "strip_prefix"]


class TransferQuery(BaseModel):
    source: Source = "resnet_mini"
    variant: Variant = "same_arch"
    num_classes: int = Field(10, ge=2, le=10, description="classes of the target task")
    strategy: Strategy = "shape_filter"

    def key(self) -> tuple:
        return (self.source, self.variant, self.num_classes, self.strategy)


class FinetuneRequest(TransferQuery):
    shots: int = Field(10, ge=1, le=50, description="labelled examples per class")
    epochs: int = Field(15, ge=2, le=40)
    freeze_backbone: bool = False
    seed: int = Field(0, ge=0, le=10_000)


class StoryGroup(BaseModel):
    """Tensors that met the same fate in the same top-level module, in the order the page tells them."""
    fate: str = Field(description="transferred, filtered, not_loaded, new, unused; prefix / prefix_shape for a "
                                  "`module.x` checkpoint key paired with the model's `x`")
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
