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
