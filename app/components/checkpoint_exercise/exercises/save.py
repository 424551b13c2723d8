"""Exercise: write save_checkpoint so that a killed run can continue exactly."""

EXERCISE = {
    "id": "save",
    "order": 1,
    "learner": ["save_checkpoint"],
    "title": {"zh": "练习：写 save_checkpoint", "en": "Exercise: write save_checkpoint"},
    "task": {
        "zh": (
            "训练循环在每个 epoch 结束（scheduler.step() 之后）调用 save_checkpoint(path, model, "
            'optimizer, scheduler, epoch)。保存一个字典，键为 "model"、"optimizer"、"scheduler"、'
            '"epoch"、"rng"（torch 的全局随机数状态）。检查会用你的函数训练，在第 3 个 epoch 的 '
            "checkpoint 之后真的 SIGKILL 进程，从文件续训，再和一次不中断的训练逐位比较。"
        ),
        "en": (
            "The training loop calls save_checkpoint(path, model, optimizer, scheduler, epoch) at the "
            'end of each epoch (after scheduler.step()). Save a dict with the keys "model", '
            '"optimizer", "scheduler", "epoch" and "rng" (torch\'s global random state). The '
            "check trains with your function, really SIGKILLs the process after epoch 3's checkpoint, "
            "resumes from the file and compares bit for bit with an uninterrupted run."
        ),
    },
    "scaffold": """import torch


def save_checkpoint(path, model, optimizer, scheduler, epoch):
    # TODO: save everything a fresh process needs to continue exactly
    torch.save({
        "model": model.state_dict(),
        "epoch": epoch,
    }, path)
""",
    "solution": """import torch


def save_checkpoint(path, model, optimizer, scheduler, epoch):
    torch.save({
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "rng": torch.get_rng_state(),
    }, path)
""",
    "prefix": (
        "import torch\n\n\ndef save_checkpoint(path, model, optimizer, scheduler, epoch):\n    torch.save({\n"
    ),
    "suffix": "    }, path)\n",
    "bank": [
        '        "model": model.state_dict(),',
        '        "optimizer": optimizer.state_dict(),',
        '        "optimizer": optimizer,',
        '        "scheduler": scheduler.state_dict(),',
        '        "epoch": epoch,',
        '        "epoch": 3,',
        '        "rng": torch.get_rng_state(),',
        '        "rng": torch.manual_seed(0),',
    ],
    "hints": {
        "zh": {
            "optimizer": (
                "Adam 的动量和二阶矩存放在 optimizer.state_dict() 里，只保存模型权重会让它们从零开始。"
            ),
            "scheduler": "学习率调度器有自己的计数器：scheduler.state_dict() 记录已经走了几步。",
            "rng": "打乱数据顺序和 Dropout 都用 torch 的全局随机数生成器：torch.get_rng_state() 把它存下来。",
            "epoch": "epoch 应该是传进来的参数，而不是一个固定的数字。",
            "error": "先看 torch 给出的错误和行号；torch.save 只能保存张量、字典、列表和数字这类对象。",
            "other": (
                "把 model、optimizer、scheduler 的 state_dict()、epoch 和 torch.get_rng_state() 都放进字典。"
            ),
        },
        "en": {
            "optimizer": (
                "Adam keeps its moment estimates in optimizer.state_dict(); saving only the model's "
                "weights makes them start from zero."
            ),
            "scheduler": (
                "The LR scheduler has its own counter: scheduler.state_dict() records how many steps it "
                "has taken."
            ),
            "rng": (
                "The data shuffle and Dropout both draw from torch's global generator: "
                "torch.get_rng_state() saves it."
            ),
            "epoch": "The epoch should be the argument you were given, not a fixed number.",
            "error": (
                "Read torch's error and the line first; torch.save stores tensors, dicts, lists and numbers."
            ),
            "other": (
                "Put the state_dict() of model, optimizer and scheduler, the epoch and "
                "torch.get_rng_state() in the dict."
            ),
        },
    },
}
