"""Small CNNs for the transfer lesson, the source registry and the target variants.

The two sources mirror the two common torchvision layouts: a ResNet whose head is a bare
`fc` Linear (keys `fc.weight`) and a VGG/AlexNet-like net whose head is an nn.Sequential
(keys `classifier.1.weight`). Target variants change exactly one thing so that each kind of
load_state_dict failure can be produced on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from app.ml.catalog import DP_PREFIX, VARIANTS, Variant  # noqa: F401  (re-exported)
from app.ml.vision import CHANNELS, GLYPH_NAMES

SOURCE_CLASSES = len(GLYPH_NAMES)


class BasicBlock(nn.Module):
    """ResNet basic block; the 1x1 `downsample` appears only when the shape changes, as in torchvision."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + skip)


class HeadedNet(nn.Module):
    """A backbone and a classifier head registered under `head_name` (a variant renames it)."""

    head_name: str

    def head_module(self) -> nn.Module:
        return self.get_submodule(self.head_name)


Widths = tuple[int, int, int]


class ResNetMini(HeadedNet):
    def __init__(self, num_classes: int, head_name: str = "fc", widths: Widths = (16, 32, 64)) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.conv1 = nn.Conv2d(CHANNELS, w1, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w1)
        self.layer1 = BasicBlock(w1, w1)
        self.layer2 = BasicBlock(w1, w2, stride=2)
        self.layer3 = BasicBlock(w2, w3, stride=2)
        self.head_name = head_name
        # setattr registers the head under whichever name the variant asks for.
        setattr(self, head_name, nn.Linear(w3, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_module()(self.features(x))


class ConvNetMini(HeadedNet):
    def __init__(
        self, num_classes: int, head_name: str = "classifier", widths: Widths = (16, 32, 64)
    ) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.features = nn.Sequential(
            nn.Conv2d(CHANNELS, w1, 3, padding=1),
            nn.BatchNorm2d(w1),
            nn.ReLU(),
            nn.Conv2d(w1, w2, 3, padding=1),
            nn.BatchNorm2d(w2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w2, w3, 3, padding=1),
            nn.BatchNorm2d(w3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head_name = head_name
        # Dropout first, so the Linear sits at index 1 like torchvision's `classifier.1.weight`.
        setattr(self, head_name, nn.Sequential(nn.Dropout(0.2), nn.Linear(w3, num_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_module()(self.features(x))


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    builder: Callable[..., HeadedNet]  # (num_classes, head_name=, widths=)
    head_name: str
    widths: Widths
    wide_last: int  # width of the last block in the "wider_block" variant

    def build(
        self, num_classes: int, head_name: str | None = None, widths: Widths | None = None
    ) -> HeadedNet:
        return self.builder(num_classes, head_name=head_name or self.head_name, widths=widths or self.widths)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "head_name": self.head_name,
            "widths": list(self.widths),
            "source_classes": SOURCE_CLASSES,
        }


SOURCES = {
    "resnet_mini": Source(
        "resnet_mini",
        "Small residual CNN: stem, three BasicBlocks with BatchNorm, global average pool, `fc` head.",
        ResNetMini,
        "fc",
        (16, 32, 64),
        96,
    ),
    "convnet_mini": Source(
        "convnet_mini",
        "Plain conv stack (`features` Sequential) with a `classifier` Sequential head: Dropout, Linear.",
        ConvNetMini,
        "classifier",
        (16, 32, 64),
        96,
    ),
}


def build_source(source_name: str, seed: int = 0) -> HeadedNet:
    """The pretraining model (24 classes), initialised from `seed`."""
    source = SOURCES[source_name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return source.build(SOURCE_CLASSES)


def build_target(source_name: str, variant: str, num_classes: int, seed: int = 0) -> HeadedNet:
    """The model to fine-tune, freshly initialised from `seed`.

    Same arguments, same tensors: that is how a "filtered" tensor is shown to still hold its
    random initialisation. The global RNG is left untouched for whoever calls this.
    """
    source, var = SOURCES[source_name], VARIANTS[variant]
    w1, w2, _ = source.widths
    head_name = "head" if var.renamed_head else None
    widths = (w1, w2, source.wide_last) if var.wider_block else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return source.build(num_classes, head_name, widths)


def present_source(state_dict: dict[str, torch.Tensor], variant: str) -> dict[str, torch.Tensor]:
    """The source checkpoint as the learner receives it under this variant."""
    if VARIANTS[variant].dataparallel_prefix:
        return {DP_PREFIX + k: v for k, v in state_dict.items()}
    return dict(state_dict)


def head_prefix(model: HeadedNet) -> str:
    return model.head_name + "."
