"""What the transfer lesson offers, as plain data: sources, target variants, loading strategies.

Free of torch, so the web process can build its forms and texts without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SOURCE_NAMES = ("resnet_mini", "convnet_mini")


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    expected: str  # what goes wrong with a naive load, in one line
    renamed_head: bool = False
    dataparallel_prefix: bool = False
    wider_block: bool = False
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "expected": self.expected}


VARIANTS = {
    "same_arch": Variant(
        "same_arch",
        "Same architecture, new number of classes: only the head's output size differs.",
        "size mismatch on the head's weight and bias",
    ),
    "renamed_head": Variant(
        "renamed_head",
        "Same backbone, but the head attribute is called `head`.",
        "missing keys head.* and unexpected keys from the old head",
        renamed_head=True,
    ),
    "dataparallel_prefix": Variant(
        "dataparallel_prefix",
        "Same architecture; the source checkpoint was saved from nn.DataParallel, "
        "so every key starts with `module.`.",
        "every key is missing and every source key is unexpected",
        dataparallel_prefix=True,
    ),
    "wider_block": Variant(
        "wider_block",
        "The last block of the backbone is wider (and so is the head's input).",
        "size mismatches inside the backbone, not just the head",
        wider_block=True,
    ),
}

DP_PREFIX = "module."  # what nn.DataParallel puts before every key


STATUSES = ("transferred", "filtered", "not_loaded", "new", "unused")
STATUS_HELP = {
    "transferred": "same key and shape; after loading the target tensor equals the source",
    "filtered": "same key, different shape: not copied, still the random initialisation",
    "not_loaded": "same key and shape, but not copied (the load raised or skipped it)",
    "new": "only in the target model: keeps its random initialisation",
    "unused": "only in the source checkpoint: ignored",
}
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")

STRATEGIES = {
    "shape_filter": {
        "label": "Shape filter",
        "description": "Keep only source tensors whose key exists in the model with the same "
        "shape, merge them into the model's own state_dict, load strictly.",
        "code": "model_dict = model.state_dict()\n"
        "filtered = {k: v for k, v in src.items()\n"
        "            if k in model_dict and v.shape == model_dict[k].shape}\n"
        "model_dict.update(filtered)\n"
        "model.load_state_dict(model_dict)",
    },
    "strict": {
        "label": "strict=True",
        "description": "The default: every key must match and every shape must agree.",
        "code": "model.load_state_dict(src, strict=True)",
    },
    "non_strict": {
        "label": "strict=False",
        "description": "Tolerates missing and unexpected keys, but NOT size mismatches.",
        "code": "result = model.load_state_dict(src, strict=False)\n"
        "result.missing_keys, result.unexpected_keys",
    },
    "strip_prefix": {
        "label": "Strip `module.` + shape filter",
        "description": "Remove the nn.DataParallel prefix in place, then apply the shape filter.",
        "code": "from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present\n"
        'consume_prefix_in_state_dict_if_present(src, "module.")\n'
        "model_dict = model.state_dict()\n"
        "filtered = {k: v for k, v in src.items()\n"
        "            if k in model_dict and v.shape == model_dict[k].shape}\n"
        "model_dict.update(filtered)\n"
        "model.load_state_dict(model_dict)",
    },
}
