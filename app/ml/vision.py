"""Synthetic image tasks for the transfer-learning lesson, generated in code (nothing downloaded).

Every image is drawn from one visual vocabulary of 24 procedural glyphs (strokes, outlines,
filled shapes, textures). The SOURCE task asks "which glyph is this?" (24 classes, plenty of
examples), which is the stand-in for ImageNet pretraining. A TARGET task shows two glyphs side
by side and asks "which pair is this?" (2..10 classes, a handful of examples each): the glyphs
are familiar, the combinations and the label set are new, so a backbone that already detects
glyphs needs only a new head, while a model trained from scratch has too few examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

IMAGE_SIZE = 16
CHANNELS = 1
_SQRT2 = math.sqrt(2.0)


def _box(x: torch.Tensor, y: torch.Tensor, half: float) -> torch.Tensor:
    return torch.maximum(x.abs(), y.abs()) - half


def _hbar(
    x: torch.Tensor, y: torch.Tensor, t: torch.Tensor, cy: float = 0.0, half: float = 1.0
) -> torch.Tensor:
    return torch.maximum((y - cy).abs() - t, x.abs() - half)


def _vbar(
    x: torch.Tensor, y: torch.Tensor, t: torch.Tensor, cx: float = 0.0, half: float = 1.0
) -> torch.Tensor:
    return _hbar(y, x, t, cx, half)


def _stripes(u: torch.Tensor, period: float) -> torch.Tensor:
    # Distance to the nearest stripe centre line of a periodic pattern, minus a half stripe.
    f = torch.frac(u / period + 10.0)
    return ((f - 0.5).abs() - 0.25) * period


# Each glyph is a signed distance in local units (negative inside; the glyph spans [-1, 1]),
# so strokes and fills share one anti-aliased rasteriser. Arguments: x, y, radius, stroke half-width.
Glyph = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
GLYPHS: dict[str, Glyph] = {
    "hline": lambda x, y, r, t: _hbar(x, y, t),
    "vline": lambda x, y, r, t: _vbar(x, y, t),
    "diag": lambda x, y, r, t: torch.maximum((x - y).abs() / _SQRT2 - t, _box(x, y, 0.9)),
    "antidiag": lambda x, y, r, t: torch.maximum((x + y).abs() / _SQRT2 - t, _box(x, y, 0.9)),
    "ring": lambda x, y, r, t: (r - 0.8).abs() - t,
    "disc": lambda x, y, r, t: r - 0.75,
    "square": lambda x, y, r, t: _box(x, y, 0.8).abs() - t,
    "box": lambda x, y, r, t: _box(x, y, 0.7),
    "cross": lambda x, y, r, t: torch.maximum(
        torch.minimum((x - y).abs(), (x + y).abs()) / _SQRT2 - t, _box(x, y, 0.9)
    ),
    "plus": lambda x, y, r, t: torch.minimum(_hbar(x, y, t), _vbar(x, y, t)),
    "triangle": lambda x, y, r, t: torch.maximum(y - 0.75, (2.0 * x.abs() - (y + 0.85)) / 2.2),
    "diamond": lambda x, y, r, t: ((x.abs() + y.abs()) - 0.9).abs() / _SQRT2 - t,
    "gem": lambda x, y, r, t: (x.abs() + y.abs() - 0.9) / _SQRT2,
    "equals": lambda x, y, r, t: torch.minimum(_hbar(x, y, t, -0.45), _hbar(x, y, t, 0.45)),
    "pipes": lambda x, y, r, t: torch.minimum(_vbar(x, y, t, -0.45), _vbar(x, y, t, 0.45)),
    "corner": lambda x, y, r, t: torch.minimum(_vbar(x, y, t, -0.8, 0.9), _hbar(x, y, t, 0.8, 0.9)),
    "tee": lambda x, y, r, t: torch.minimum(_hbar(x, y, t, -0.8, 0.9), _vbar(x, y, t, 0.0, 0.9)),
    "half_disc": lambda x, y, r, t: torch.maximum(r - 0.85, -y),
    "framed_dot": lambda x, y, r, t: torch.minimum(_box(x, y, 0.85).abs() - t, r - 0.25),
    "small_ring": lambda x, y, r, t: (r - 0.45).abs() - t,
    "hstripes": lambda x, y, r, t: torch.maximum(_box(x, y, 0.85), _stripes(y, 0.6)),
    "vstripes": lambda x, y, r, t: torch.maximum(_box(x, y, 0.85), _stripes(x, 0.6)),
    "chevron": lambda x, y, r, t: torch.maximum((y - x.abs() + 0.35).abs() / _SQRT2 - t, x.abs() - 0.9),
    "dots": lambda x, y, r, t: torch.sqrt(((x.abs() - 0.55) ** 2) + ((y.abs() - 0.55) ** 2)) - 0.25,
}
GLYPH_NAMES = list(GLYPHS)

# Target classes: new combinations of known glyphs. Fixed, so a task with n classes is always
# the first n pairs and the lesson can name them. Several pairs share a glyph on purpose: the
# classifier has to look at both halves.
TARGET_PAIRS = [
    ("disc", "hline"),
    ("ring", "vline"),
    ("cross", "box"),
    ("plus", "triangle"),
    ("disc", "vline"),
    ("diamond", "equals"),
    ("ring", "hline"),
    ("chevron", "dots"),
    ("gem", "pipes"),
    ("square", "tee"),
]
MIN_TARGET_CLASSES, MAX_TARGET_CLASSES = 2, len(TARGET_PAIRS)
MIN_SHOTS, MAX_SHOTS = 1, 50


@dataclass
class Task:
    """A labelled image task: tensors of shape (N, 1, 16, 16) in [0, 1] and int64 labels."""

    name: str
    class_names: list[str]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    seed: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        """The task's description without the tensors (for the web layer)."""
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "train_size": int(self.y_train.numel()),
            "test_size": int(self.y_test.numel()),
            "image_shape": list(self.x_train.shape[1:]),
            "seed": self.seed,
            **self.info,
        }


def _rasterise(
    glyph_ids: torch.Tensor,
    cx: torch.Tensor,
    cy: torch.Tensor,
    half: torch.Tensor,
    thick: torch.Tensor,
    gen: torch.Generator,
) -> torch.Tensor:
    """Glyph masks (N, S, S) in [0, 1], one glyph per row, at the given pixel centres/sizes."""
    n = glyph_ids.numel()
    coords = torch.arange(IMAGE_SIZE, dtype=torch.float32)
    px = coords.view(1, 1, -1).expand(n, IMAGE_SIZE, IMAGE_SIZE)
    py = coords.view(1, -1, 1).expand(n, IMAGE_SIZE, IMAGE_SIZE)
    s = half.view(-1, 1, 1)
    x = (px - cx.view(-1, 1, 1)) / s
    y = (py - cy.view(-1, 1, 1)) / s
    r = torch.sqrt(x * x + y * y)
    t = (thick / half).view(-1, 1, 1)
    dist = torch.empty(n, IMAGE_SIZE, IMAGE_SIZE)
    for gid, name in enumerate(GLYPH_NAMES):
        rows = glyph_ids == gid
        if rows.any():
            dist[rows] = GLYPHS[name](x[rows], y[rows], r[rows], t[rows])
    # Distance back in pixels: a one-pixel soft edge anti-aliases the small glyphs.
    return (0.5 - dist * s).clamp(0.0, 1.0)


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def _finish(masks: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random contrast, background level and sensor noise, so pixels alone don't give it away."""
    n = masks.shape[0]
    bg = _uniform(n, 0.0, 0.3, gen).view(-1, 1, 1)
    fg = _uniform(n, 0.65, 1.0, gen).view(-1, 1, 1)
    noise = _uniform(n, 0.03, 0.12, gen).view(-1, 1, 1)
    img = bg + (fg - bg) * masks + noise * torch.randn(masks.shape, generator=gen)
    return img.clamp(0.0, 1.0).unsqueeze(1)


def render_single(glyph_ids: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One glyph per image at a random position and scale (the source task's images)."""
    n = glyph_ids.numel()
    half = _uniform(n, 2.8, 6.0, gen)
    lo, hi = half - 0.5, IMAGE_SIZE - 0.5 - half
    cx, cy = lo + (hi - lo) * torch.rand(n, generator=gen), lo + (hi - lo) * torch.rand(n, generator=gen)
    thick = _uniform(n, 0.55, 1.0, gen)
    return _finish(_rasterise(glyph_ids, cx, cy, half, thick, gen), gen)


def render_pairs(first: torch.Tensor, second: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Two glyphs per image, in the two halves (left/right or top/bottom, either order)."""
    n = first.numel()
    half = _uniform(n, 2.8, 3.6, gen)
    vertical = torch.rand(n, generator=gen) < 0.5
    swap = torch.rand(n, generator=gen) < 0.5
    a, b = torch.where(swap, second, first), torch.where(swap, first, second)
    # Along the split axis each glyph sits in its own half; across it, anywhere that fits.
    along_a = _uniform(n, 0.0, 1.0, gen) * (IMAGE_SIZE / 2 - 2 * half) + half - 0.5
    along_b = IMAGE_SIZE / 2 + _uniform(n, 0.0, 1.0, gen) * (IMAGE_SIZE / 2 - 2 * half) + half - 0.5
    lo, hi = half - 0.5, IMAGE_SIZE - 0.5 - half
    across_a = lo + (hi - lo) * torch.rand(n, generator=gen)
    across_b = lo + (hi - lo) * torch.rand(n, generator=gen)
    thick = _uniform(n, 0.55, 1.0, gen)
    ax, ay = torch.where(vertical, across_a, along_a), torch.where(vertical, along_a, across_a)
    bx, by = torch.where(vertical, across_b, along_b), torch.where(vertical, along_b, across_b)
    masks = torch.maximum(_rasterise(a, ax, ay, half, thick, gen), _rasterise(b, bx, by, half, thick, gen))
    return _finish(masks, gen)


def _balanced_labels(num_classes: int, per_class: int, gen: torch.Generator) -> torch.Tensor:
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    return labels[torch.randperm(labels.numel(), generator=gen)]


def source_task(seed: int = 0, train_per_class: int = 200, test_per_class: int = 40) -> Task:
    """24-way glyph recognition: the big pretraining task."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    y_train = _balanced_labels(len(GLYPH_NAMES), train_per_class, gen)
    y_test = _balanced_labels(len(GLYPH_NAMES), test_per_class, gen)
    return Task(
        name="glyphs",
        class_names=list(GLYPH_NAMES),
        x_train=render_single(y_train, gen),
        y_train=y_train,
        x_test=render_single(y_test, gen),
        y_test=y_test,
        seed=seed,
        info={"kind": "source", "train_per_class": train_per_class, "test_per_class": test_per_class},
    )


def target_task(num_classes: int = 5, shots: int = 10, seed: int = 0, test_per_class: int = 40) -> Task:
    """A few-shot task on new glyph pairs: `shots` training images per class."""
    if not MIN_TARGET_CLASSES <= num_classes <= MAX_TARGET_CLASSES:
        raise ValueError(f"num_classes must be in {MIN_TARGET_CLASSES}..{MAX_TARGET_CLASSES}")
    if not MIN_SHOTS <= shots <= MAX_SHOTS:
        raise ValueError(f"shots must be in {MIN_SHOTS}..{MAX_SHOTS}")
    pairs = TARGET_PAIRS[:num_classes]
    index = {name: i for i, name in enumerate(GLYPH_NAMES)}
    first = torch.tensor([index[a] for a, _ in pairs])
    second = torch.tensor([index[b] for _, b in pairs])
    # The test set depends on the seed but not on `shots`, so changing the number of examples
    # is compared on the same held-out images.
    test_gen = torch.Generator().manual_seed(20_000 + seed)
    y_test = _balanced_labels(num_classes, test_per_class, test_gen)
    x_test = render_pairs(first[y_test], second[y_test], test_gen)
    gen = torch.Generator().manual_seed(30_000 + seed)
    y_train = _balanced_labels(num_classes, shots, gen)
    x_train = render_pairs(first[y_train], second[y_train], gen)
    return Task(
        name=f"pairs{num_classes}",
        class_names=[f"{a} + {b}" for a, b in pairs],
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        seed=seed,
        info={"kind": "target", "shots": shots, "test_per_class": test_per_class},
    )
