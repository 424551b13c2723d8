"""Exercise: load a pretrained backbone into a model with a new head (filter by shape)."""

EXERCISE = {
    "id": "transfer",
    "order": 4,
    "kind": "transfer",
    "learner": ["load_pretrained"],
    "title": {"zh": "练习：只加载形状相同的权重", "en": "Exercise: load only the weights whose shapes fit"},
    "task": {
        "zh": (
            'path 是真实预训练过的 ResNetMini（24 类）的文件，一个字典，键 "state_dict" 里是它的权重'
            "。model 是一个新的 ResNetMini，分类头 fc 只有 5 类。写出 load_pretrained(model, path)：把"
            "所有形状相同的张量加载进来，其余的保持初始化，并返回 load_state_dict 的结果。检查会逐个张"
            "量和预训练源比较；隐藏检查换了分类数和网络宽度。"
        ),
        "en": (
            "path is the file of a really pretrained ResNetMini (24 classes): a dict whose "
            '"state_dict" holds its weights. model is a new ResNetMini whose fc head has 5 classes. '
            "Write load_pretrained(model, path): load every tensor whose shape fits, leave the others "
            "at their initialisation, and return what load_state_dict returned. The check compares "
            "tensor by tensor with the pretrained source; hidden checks change the number of classes "
            "and a block's width."
        ),
    },
    "checks": (
        {"seed": 0, "variant": "same_arch", "classes": 5, "hidden": False},
        {"seed": 1, "variant": "wider_block", "classes": 5, "hidden": True},
        {"seed": 2, "variant": "same_arch", "classes": 24, "hidden": True},
    ),
    "scaffold": """import torch


def load_pretrained(model, path):
    source = torch.load(path, weights_only=True)["state_dict"]
    # TODO: keep only what fits this model
    return model.load_state_dict(source)
""",
    "solution": """import torch


def load_pretrained(model, path):
    source = torch.load(path, weights_only=True)["state_dict"]
    target = model.state_dict()
    compatible = {k: v for k, v in source.items()
                  if k in target and v.shape == target[k].shape}
    return model.load_state_dict(compatible, strict=False)
""",
    "prefix": "import torch\n\n\ndef load_pretrained(model, path):\n",
    "suffix": "",
    "bank": [
        '    source = torch.load(path, weights_only=True)["state_dict"]',
        "    target = model.state_dict()",
        "    compatible = {k: v for k, v in source.items() if k in target and v.shape == target[k].shape}",
        '    compatible = {k: v for k, v in source.items() if not k.startswith("fc.")}',
        "    return model.load_state_dict(source, strict=False)",
        "    return model.load_state_dict(compatible, strict=False)",
        "    return model.load_state_dict(compatible)",
    ],
    "hints": {
        "zh": {
            "error": "strict=False 只容忍缺少或多余的 key，不容忍形状不同：先按形状过滤，再加载。",
            "by_name": (
                "按名字跳过 fc.* 在分类数相同时就错了：那时分类头的形状也对得上，应该加载。按形状过滤，而"
                "不是按名字。"
            ),
            "not_loaded": "所有形状相同的张量都应该来自预训练源：比较 v.shape == target[k].shape。",
            "nothing_loaded": "一个张量都没有加载：key 的名字对得上吗？",
            "changed": "形状不同的张量应该保持初始化，不要改动它们。",
            "other": (
                "先取 model.state_dict()，留下 key 存在且形状相同的项，再 load_state_dict(..., "
                "strict=False)。"
            ),
        },
        "en": {
            "error": (
                "strict=False tolerates missing or unexpected keys, not different shapes: filter by "
                "shape first, then load."
            ),
            "by_name": (
                "Skipping fc.* by name goes wrong when the class count is the same: then the head fits "
                "too and should load. Filter by shape, not by name."
            ),
            "not_loaded": (
                "Every tensor whose shape fits should come from the source: compare v.shape == "
                "target[k].shape."
            ),
            "nothing_loaded": "Not one tensor was loaded: do the key names match?",
            "changed": "Tensors whose shapes differ should keep their initialisation; leave them alone.",
            "other": (
                "Take model.state_dict(), keep the entries whose key exists and whose shape is equal, "
                "then load_state_dict(..., strict=False)."
            ),
        },
    },
}
