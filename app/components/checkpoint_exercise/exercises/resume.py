"""Exercise: write load_checkpoint so that a fresh process continues a killed run exactly."""

EXERCISE = {
    "id": "resume",
    "order": 2,
    "learner": ["load_checkpoint"],
    "title": {"zh": "练习：写 load_checkpoint", "en": "Exercise: write load_checkpoint"},
    "task": {
        "zh": (
            "进程被杀掉后，一个新进程重新执行脚本：设随机种子，新建 model、optimizer、scheduler，然后调"
            "用 load_checkpoint(path, model, optimizer, scheduler)。checkpoint 是一个字典，键为 "
            '"model"、"optimizer"、"scheduler"、"epoch"（已完成的 epoch）和 "rng"。恢复全部状'
            "态，并返回接下来要训练的 epoch。检查包括隐藏的一项：另一个随机种子、另一个 epoch 的 "
            "checkpoint。"
        ),
        "en": (
            "After the process is killed, a fresh one runs the script again: it seeds, builds a new "
            "model, optimizer and scheduler, and calls load_checkpoint(path, model, optimizer, "
            'scheduler). The checkpoint is a dict with the keys "model", "optimizer", '
            '"scheduler", "epoch" (the epoch completed) and "rng". Restore all of it and return '
            "the epoch to train next. The check includes a hidden one: another seed, a checkpoint from "
            "another epoch."
        ),
    },
    "scaffold": """import torch


def load_checkpoint(path, model, optimizer, scheduler):
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    # TODO: restore the rest, then return the epoch to train next
    return 1
""",
    "solution": """import torch


def load_checkpoint(path, model, optimizer, scheduler):
    ckpt = torch.load(path, weights_only=True)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    torch.set_rng_state(ckpt["rng"])
    return ckpt["epoch"] + 1
""",
    "prefix": "import torch\n\n\ndef load_checkpoint(path, model, optimizer, scheduler):\n",
    "suffix": "",
    "bank": [
        "    ckpt = torch.load(path, weights_only=True)",
        '    model.load_state_dict(ckpt["model"])',
        '    optimizer.load_state_dict(ckpt["optimizer"])',
        '    scheduler.load_state_dict(ckpt["scheduler"])',
        "    scheduler.step()",
        '    torch.set_rng_state(ckpt["rng"])',
        "    torch.manual_seed(0)",
        '    return ckpt["epoch"]',
        '    return ckpt["epoch"] + 1',
    ],
    "hints": {
        "zh": {
            "optimizer": (
                'optimizer.load_state_dict(ckpt["optimizer"]) 把 Adam 的动量带回来；没有它'
                "，续训后的第一步会迈得太大，损失跳升。"
            ),
            "scheduler": (
                'scheduler.load_state_dict(ckpt["scheduler"]) 让学习率调度从中断处继续，而'
                "不是从初始学习率重新开始。"
            ),
            "rng": (
                'torch.set_rng_state(ckpt["rng"]) 要放在最后：之后不要再设种子或做别的随机操作，'
                "否则数据顺序就变了。"
            ),
            "epoch": "返回值应该来自 checkpoint：保存的是已完成的 epoch，下一个要训练的是它加 1。",
            "weights": '模型权重要从 ckpt["model"] 加载到传进来的 model 上，而不是新建一个模型。',
            "error": "先看 torch 给出的错误和行号：键名是否和 checkpoint 里的一致？",
            "other": '逐一恢复 model、optimizer、scheduler 和随机数状态，返回 ckpt["epoch"] + 1。',
        },
        "en": {
            "optimizer": (
                'optimizer.load_state_dict(ckpt["optimizer"]) brings Adam\'s moments back; '
                "without it the first steps after resuming are too large and the loss jumps."
            ),
            "scheduler": (
                'scheduler.load_state_dict(ckpt["scheduler"]) continues the LR schedule '
                "where it stopped instead of restarting at the base LR."
            ),
            "rng": (
                'torch.set_rng_state(ckpt["rng"]) goes last: no seeding or other random draws '
                "after it, or the data order changes."
            ),
            "epoch": (
                "The return value should come from the checkpoint: it holds the epoch completed; the "
                "next one is that plus 1."
            ),
            "weights": 'Load ckpt["model"] into the model you were given, not into a new one.',
            "error": "Read torch's error and the line first: do the keys match the checkpoint's?",
            "other": (
                "Restore model, optimizer, scheduler and the random state one by one, and "
                'return ckpt["epoch"] + 1.'
            ),
        },
    },
}
