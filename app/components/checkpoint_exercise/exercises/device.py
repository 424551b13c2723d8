"""Exercise: resume on a CPU-only machine from a checkpoint written on a GPU."""

EXERCISE = {
    "id": "device",
    "order": 3,
    "kind": "device",
    "learner": ["resume_on_cpu"],
    "title": {"zh": "练习：在 CPU 上接着 GPU 的训练", "en": "Exercise: continue a GPU run on the CPU"},
    "task": {
        "zh": (
            "这个 checkpoint 是在 GPU 上保存的：每个张量都标记在 cuda:0 上，而检查所在的机器只有 CPU。"
            "写出 resume_on_cpu(path, make_model, make_optimizer, make_scheduler)：加载 checkpoint，用"
            "三个工厂函数（make_optimizer(params)、make_scheduler(optimizer)）按正确的顺序重建模型、优"
            "化器和调度器并恢复状态，返回 (model, optimizer, scheduler, start_epoch)。检查同样会真的杀"
            "掉训练，再逐位比较。"
        ),
        "en": (
            "This checkpoint was saved on a GPU: every tensor is tagged cuda:0, and the machine of the "
            "check has only a CPU. Write resume_on_cpu(path, make_model, make_optimizer, "
            "make_scheduler): load the checkpoint, rebuild the model, optimizer and scheduler with the "
            "three factories (make_optimizer(params), make_scheduler(optimizer)) in the right order, "
            "restore their state, and return (model, optimizer, scheduler, start_epoch). The check "
            "again kills the training for real and compares bit for bit."
        ),
    },
    "scaffold": """import torch


def resume_on_cpu(path, make_model, make_optimizer, make_scheduler):
    ckpt = torch.load(path, weights_only=True)  # TODO: the tensors are tagged cuda:0
    model = make_model()
    model.load_state_dict(ckpt["model"])
    optimizer = make_optimizer(model.parameters())
    optimizer.load_state_dict(ckpt["optimizer"])
    # TODO: the scheduler, the random state, the epoch
    scheduler = make_scheduler(optimizer)
    return model, optimizer, scheduler, 1
""",
    "solution": """import torch


def resume_on_cpu(path, make_model, make_optimizer, make_scheduler):
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = make_model()
    model.load_state_dict(ckpt["model"])
    model.to("cpu")                                 # move the model first...
    optimizer = make_optimizer(model.parameters())  # ...then build the optimizer on its parameters
    scheduler = make_scheduler(optimizer)           # built before the states are loaded
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"])
    return model, optimizer, scheduler, ckpt["epoch"] + 1
""",
    "prefix": "import torch\n\n\ndef resume_on_cpu(path, make_model, make_optimizer, make_scheduler):\n",
    "suffix": "",
    "bank": [
        "    ckpt = torch.load(path, weights_only=True)",
        '    ckpt = torch.load(path, map_location="cpu", weights_only=True)',
        "    model = make_model()",
        '    model.load_state_dict(ckpt["model"])',
        "    optimizer = make_optimizer(model.parameters())",
        "    scheduler = make_scheduler(optimizer)",
        '    optimizer.load_state_dict(ckpt["optimizer"])',
        '    scheduler.load_state_dict(ckpt["scheduler"])',
        '    torch.set_rng_state(ckpt["rng"])',
        '    return model, optimizer, scheduler, ckpt["epoch"] + 1',
    ],
    "hints": {
        "zh": {
            "error": (
                "在只有 CPU 的机器上加载 GPU 的 checkpoint，要告诉 torch.load 把存储放到哪里："
                'map_location="cpu"。'
            ),
            "scheduler": (
                "先建调度器，再加载优化器状态：调度器在构造时会把学习率重置成初始值，放在 "
                "optimizer.load_state_dict 之后就把恢复好的学习率覆盖了。"
            ),
            "bound": (
                "优化器必须建在最终要训练的那个模型的参数上：先建好（并搬好）模型，再 "
                "make_optimizer(model.parameters())。"
            ),
            "optimizer": 'optimizer.load_state_dict(ckpt["optimizer"]) 把 Adam 的动量带回来。',
            "rng": '最后用 torch.set_rng_state(ckpt["rng"]) 恢复随机数状态。',
            "epoch": '返回 ckpt["epoch"] + 1，不要写死。',
            "other": (
                '顺序：torch.load(map_location="cpu") → 模型 → 优化器 → 调度器 → 加载两者的状'
                "态 → 随机数状态。"
            ),
        },
        "en": {
            "error": (
                "To load a GPU checkpoint on a CPU-only machine, tell torch.load where to put "
                'the storages: map_location="cpu".'
            ),
            "scheduler": (
                "Build the scheduler before loading the optimizer state: a scheduler resets the LR to "
                "its initial value when it is built, so building it after optimizer.load_state_dict "
                "overwrites the restored LR."
            ),
            "bound": (
                "Build the optimizer on the parameters of the model you will train: build (and move) the "
                "model first, then make_optimizer(model.parameters())."
            ),
            "optimizer": 'optimizer.load_state_dict(ckpt["optimizer"]) brings Adam\'s moments back.',
            "rng": 'Restore the random state last with torch.set_rng_state(ckpt["rng"]).',
            "epoch": 'Return ckpt["epoch"] + 1; don\'t hard-code it.',
            "other": (
                'Order: torch.load(map_location="cpu") → model → optimizer → scheduler → load '
                "both states → random state."
            ),
        },
    },
}
