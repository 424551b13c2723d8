"""The resume audit in words (zh and en): the verdict, one sentence per finding, the file's kind.

The sentences about a missing piece say what the simulator's ledger measured when resuming
without it (the same wording as app/components/checkpoint_simulator/strings.py RESTORE_LABELS,
copied here: the simulator is rewritten on its own schedule). Used by the page, the JSON API
and the checkpoint_doctor command alike; no torch here.
"""

from __future__ import annotations

import copy

from app import i18n

VERDICT_EXIT = {"exact": 0, "not_bitwise": 1, "weights_only": 1, "part": 1, "not_training": 1}

EN = {
    "ca.verdict.exact": "Resumes exactly",
    "ca.verdict.not_bitwise": "Resumes, but not bit for bit",
    "ca.verdict.weights_only": "Weights only",
    "ca.verdict.part": "One part of a checkpoint",
    "ca.verdict.not_training": "Not a training checkpoint",
    "ca.exact_why": "weights, optimizer, counters and RNG state are all here and agree with each other.",
    "ca.title": "Will it resume?",
    "ca.findings": "What to add or fix",
    "ca.more_checks": "Only if your run uses them",
    "ca.pieces": "Training state found",
    "ca.missing": "missing",
    "ca.files": "Files of the folder",
    "ca.ledger": "ledger: {row}",
    "ca.section": "section {section}",
    "ca.kind": "What it is",
    "ca.header_only": (
        "Larger than the limit: only the zip's directory and the pickle were read (shapes and dtypes, no "
        "tensor data)."
    ),
    "ca.allowlist": (
        "Refused by default for NumPy's data classes, in: {keys}. transformers loads its rng_state.pth the "
        "same way. This allowlist (tried here) loads it:"
    ),
    "ca.piece.weights": "model weights",
    "ca.piece.optimizer": "optimizer state",
    "ca.piece.scheduler": "LR scheduler",
    "ca.piece.scaler": "GradScaler (AMP)",
    "ca.piece.ema": "EMA weights",
    "ca.piece.counters": "epoch / step counters",
    "ca.piece.torch_cpu": "torch CPU RNG",
    "ca.piece.torch_cuda": "CUDA RNG",
    "ca.piece.numpy": "NumPy RNG",
    "ca.piece.python": "Python random",
    "ca.piece.data": "data order / sampler position",
    "ca.short.optimizer_shape": "the optimizer's state does not match the weights by position",
    "ca.short.optimizer_count": "the optimizer and the model count different parameters",
    "ca.short.scheduler_lr": "the scheduler's LRs disagree with the optimizer's",
    "ca.short.scheduler_groups": "the scheduler and the optimizer have different group counts",
    "ca.short.numpy_array": "NumPy's state is an array that weights_only refuses",
    "ca.short.no_optimizer": "no optimizer state",
    "ca.short.no_weights": "no model weights",
    "ca.short.no_counter": "no epoch or step counter",
    "ca.short.no_rng": "no RNG state",
    "ca.short.whole_model": "a whole pickled model",
    "ca.short.training_args": "pickled TrainingArguments",
    "ca.f.optimizer_shape": (
        "The optimizer's state does not match the weights by position: parameter #{index} ({name}) has shape "
        "{shape}, the state saved for #{index} has shape {state_shape} ({wrong} of {total} positions "
        "differ). load_state_dict pairs them by position only, so this optimizer was built over the "
        "parameters in another order, or for another model."
    ),
    "ca.f.optimizer_count": (
        "The optimizer holds {optimizer} parameters and the model {model}: load_state_dict refuses a "
        "different count. If you froze layers on purpose, build the optimizer over the same parameters "
        "before loading."
    ),
    "ca.f.scheduler_lr": (
        "The scheduler's {field}[{group}] = {value} disagrees with the optimizer's {other} = {other_value}: "
        "the scheduler was saved from another optimizer or run, and resuming sets the wrong learning rate."
    ),
    "ca.f.scheduler_groups": (
        "The scheduler has {scheduler} learning rates for the optimizer's {optimizer} parameter groups."
    ),
    "ca.f.numpy_array": (
        "{path} holds NumPy's {bit_generator} state with an array, which weights_only=True refuses: save a "
        "Generator's bit_generator.state, or turn the array into a list."
    ),
    "ca.f.no_optimizer": (
        "No optimizer state: resuming starts a fresh optimizer (momentum / Adam moments lost), and the loss "
        "jumps in the first epoch back."
    ),
    "ca.f.no_weights": "No model weights: this file cannot restore the model.",
    "ca.f.no_counter": (
        "No epoch or step counter: the loop cannot tell where to go on, and warm-up, logging and schedules "
        "counted in steps start again from 0."
    ),
    "ca.f.no_rng": (
        "No torch RNG state: data order and dropout masks replay epoch 1 — the data comes in a different "
        "order than in the run that never stopped."
    ),
    "ca.f.no_scheduler": "No LR scheduler state: if your run uses a scheduler, the LR schedule starts over.",
    "ca.f.no_python_rng": (
        "No Python random state: if your pipeline draws from random, those draws differ after a resume."
    ),
    "ca.f.no_numpy_rng": (
        "No NumPy random state: if your data pipeline uses NumPy's random numbers, they differ after a "
        "resume."
    ),
    "ca.f.no_cuda_rng": (
        "No CUDA RNG state: on a GPU, dropout masks after a resume differ from the run that never stopped."
    ),
    "ca.f.no_scaler": (
        "No GradScaler state: with float16 autocast, a fresh scaler starts again at 65536 and the steps "
        "after a resume can be skipped as overflows."
    ),
    "ca.f.no_ema": (
        "No EMA weights: if you keep a moving average of the weights, a fresh AveragedModel starts from the "
        "current weights and forgets the history."
    ),
    "ca.f.no_position": (
        "No data-loader position: a checkpoint taken in the middle of an epoch resumes at the epoch's start, "
        "so some samples are trained twice and some never (save the sampler's position or a "
        "StatefulDataLoader's state_dict)."
    ),
    "ca.f.whole_model": (
        "A whole pickled model (torch.save(model)): weights_only=True refuses its classes. Save the model's "
        "state_dict instead."
    ),
    "ca.f.training_args": (
        "HF TrainingArguments, pickled: settings, not training state. transformers reads it with "
        "weights_only=False, so load it only from a source you trust."
    ),
    "ca.f.prefix": (
        "The keys of {path} start with {prefix}: strip it before loading into a bare model "
        "(torch.nn.modules.utils.consume_prefix_in_state_dict_if_present)."
    ),
    "ca.f.optimizer_empty": "The optimizer's state is empty: it was saved before its first step.",
}

ZH = {
    "ca.verdict.exact": "可以精确续训",
    "ca.verdict.not_bitwise": "能续训，但不能逐位复现",
    "ca.verdict.weights_only": "只有权重",
    "ca.verdict.part": "checkpoint 的一部分",
    "ca.verdict.not_training": "不是训练 checkpoint",
    "ca.exact_why": "权重、优化器、计数器和随机数状态都在，而且彼此一致。",
    "ca.title": "能接着训练吗？",
    "ca.findings": "需要补上或修正的",
    "ca.more_checks": "只有训练用到它们时才需要",
    "ca.pieces": "找到的训练状态",
    "ca.missing": "缺少",
    "ca.files": "文件夹里的文件",
    "ca.ledger": "账本：{row}",
    "ca.section": "第 {section} 节",
    "ca.kind": "这是什么文件",
    "ca.header_only": "文件超过了上限：只读取了 zip 目录和 pickle（形状和 dtype，没有读张量数据）。",
    "ca.allowlist": (
        "默认被拒绝，原因是 NumPy 的数据类，位置：{keys}。transformers 加载自己的 rng_state.pth 也是这样做的"
        "。下面这个白名单（已在这里试过）可以加载它："
    ),
    "ca.piece.weights": "模型权重",
    "ca.piece.optimizer": "优化器状态",
    "ca.piece.scheduler": "学习率 scheduler",
    "ca.piece.scaler": "GradScaler（混合精度）",
    "ca.piece.ema": "EMA 权重",
    "ca.piece.counters": "epoch / step 计数器",
    "ca.piece.torch_cpu": "torch CPU 随机数",
    "ca.piece.torch_cuda": "CUDA 随机数",
    "ca.piece.numpy": "NumPy 随机数",
    "ca.piece.python": "Python random",
    "ca.piece.data": "数据顺序 / sampler 位置",
    "ca.short.optimizer_shape": "优化器状态与权重按位置对不上",
    "ca.short.optimizer_count": "优化器与模型的参数个数不同",
    "ca.short.scheduler_lr": "scheduler 的学习率与优化器的不一致",
    "ca.short.scheduler_groups": "scheduler 与优化器的参数组数不同",
    "ca.short.numpy_array": "NumPy 状态是 weights_only 拒绝的数组",
    "ca.short.no_optimizer": "没有优化器状态",
    "ca.short.no_weights": "没有模型权重",
    "ca.short.no_counter": "没有 epoch 或 step 计数",
    "ca.short.no_rng": "没有随机数状态",
    "ca.short.whole_model": "整个模型被 pickle 保存",
    "ca.short.training_args": "pickle 保存的 TrainingArguments",
    "ca.f.optimizer_shape": (
        "优化器状态与权重按位置对不上：第 {index} 个参数（{name}）的形状是 {shape}，为第 {index} 个位置保存"
        "的状态形状却是 {state_shape}（{total} "
        "个位置中有 {wrong} 个不同）。load_state_dict 只按位置配对，所以这个优化器是按另一种参数顺序（或为另"
        "一个模型）建的。"
    ),
    "ca.f.optimizer_count": (
        "优化器有 {optimizer} 个参数，模型有 {model} 个：load_state_dict 会拒绝个数不同的状态。如果是有意冻"
        "结了某些层，加载前要用同样的参数建优化器。"
    ),
    "ca.f.scheduler_lr": (
        "scheduler 的 {field}[{group}] = {value}，和优化器的 {other} = {other_value} 不一致：这个 scheduler "
        "来自另一个优化器或另一次训练，续训会设置错误的学习率。"
    ),
    "ca.f.scheduler_groups": "scheduler 有 {scheduler} 个学习率，优化器却有 {optimizer} 个参数组。",
    "ca.f.numpy_array": (
        "{path} 用数组保存了 NumPy 的 {bit_generator} 状态，weights_only=True 会拒绝它：改存 Generator 的 "
        "bit_generator.state，或者把数组转成 list。"
    ),
    "ca.f.no_optimizer": (
        "没有优化器状态：续训会用新的优化器（动量/Adam 矩估计清零），恢复后第一个 epoch 的 loss 会跳高。"
    ),
    "ca.f.no_weights": "没有模型权重：这个文件恢复不了模型。",
    "ca.f.no_counter": (
        "没有 epoch 或 step 计数：训练循环不知道从哪里接着训，按步数计算的预热、日志和学习率计划都会从 0 开"
        "始。"
    ),
    "ca.f.no_rng": (
        "没有 torch 随机数状态：数据顺序与 Dropout 掩码重放第 1 个 epoch——数据顺序与从未中断的训练不同。"
    ),
    "ca.f.no_scheduler": "没有学习率 scheduler 状态：如果训练用了 scheduler，学习率计划会从头开始。",
    "ca.f.no_python_rng": "没有 Python random 状态：如果数据管道用了 random，续训后的随机数会不同。",
    "ca.f.no_numpy_rng": "没有 NumPy 随机数状态：如果数据管道用了 NumPy 的随机数，续训后会不同。",
    "ca.f.no_cuda_rng": "没有 CUDA 随机数状态：在 GPU 上，续训后的 Dropout 掩码与从未中断的训练不同。",
    "ca.f.no_scaler": (
        "没有 GradScaler 状态：用 float16 autocast 训练时，新的 scaler 从 65536 重新开始，续训后的几步可能被"
        "当成溢出跳过。"
    ),
    "ca.f.no_ema": (
        "没有 EMA 权重：如果训练维护了权重的滑动平均，新的 AveragedModel 会从当前权重开始，丢掉历史。"
    ),
    "ca.f.no_position": (
        "没有 data loader 的位置：在 epoch 中途保存的 checkpoint 会从 epoch 开头续训，有些样本训练两次、有些"
        "一次也没有（保存 sampler 的位置或 "
        "StatefulDataLoader 的 state_dict）。"
    ),
    "ca.f.whole_model": (
        "整个模型被 pickle 保存（torch.save(model)）：weights_only=True 会拒绝其中的类。请改存模型的"
        " state_dict。"
    ),
    "ca.f.training_args": (
        "pickle 保存的 HF TrainingArguments：是设置，不是训练状态。transformers 用 weights_only=False 读取它"
        "，所以只加载你信任的来源。"
    ),
    "ca.f.prefix": (
        "{path} 的 key 都以 {prefix} "
        "开头：加载到未包装的模型前要去掉它（torch.nn.modules.utils.consume_prefix_in_state_dict_if_present"
        "）。"
    ),
    "ca.f.optimizer_empty": "优化器状态是空的：它在第一步之前就被保存了。",
}

KINDS = {
    "en": {
        "lesson": "the lesson's training dict (model_state_dict, optimizer_state_dict, …)",
        "training_dict": "a training checkpoint dict (weights and optimizer)",
        "weights_dict": "a dict holding model weights",
        "state_dict": "a plain state_dict (weights only)",
        "lightning": "a PyTorch Lightning .ckpt",
        "lightning_weights": (
            "a weights-only PyTorch Lightning .ckpt (save_weights_only): cannot resume, no optimizer state"
        ),
        "optimizer": "an optimizer's state_dict",
        "scheduler": "an LR scheduler's state_dict",
        "scaler": "a GradScaler's state_dict",
        "hf_optimizer": "HF Trainer's optimizer.pt (one file of a checkpoint folder)",
        "hf_scheduler": "HF Trainer's scheduler.pt (one file of a checkpoint folder)",
        "hf_rng": "HF Trainer's rng_state.pth: Python, NumPy and torch RNG states",
        "hf_training_args": "HF Trainer's training_args.bin: pickled TrainingArguments",
        "hf_trainer_state": "HF Trainer's trainer_state.json: step and epoch counters",
        "hf_trainer_folder": "an HF Trainer checkpoint folder",
        "accelerate_optimizer": "Accelerate's optimizer.bin (one file of a save_state folder)",
        "accelerate_scheduler": "Accelerate's scheduler.bin (one file of a save_state folder)",
        "accelerate_rng": "Accelerate's random_states_N.pkl: RNG states of one process",
        "accelerate_folder": "an Accelerate save_state folder",
        "whole_model": "a whole pickled model (torch.save(model))",
        "safetensors_weights": "a safetensors file: weights only",
        "dcp_shard": (
            "a torch.distributed.checkpoint shard: one rank's tensors; load the whole folder with "
            "torch.distributed.checkpoint"
        ),
        "dcp_metadata": "a torch.distributed.checkpoint .metadata file: the index of the shards",
        "dcp_folder": "a torch.distributed.checkpoint folder",
        "folder": "a folder of checkpoint files",
        "other": "not a layout the inspector knows",
    },
    "zh": {
        "lesson": "本课的训练 dict（model_state_dict、optimizer_state_dict……）",
        "training_dict": "训练 checkpoint dict（权重和优化器）",
        "weights_dict": "装着模型权重的 dict",
        "state_dict": "普通的 state_dict（只有权重）",
        "lightning": "PyTorch Lightning 的 .ckpt",
        "lightning_weights": (
            "只含权重的 PyTorch Lightning .ckpt（save_weights_only）：没有优化器状态，无法续训"
        ),
        "optimizer": "优化器的 state_dict",
        "scheduler": "学习率 scheduler 的 state_dict",
        "scaler": "GradScaler 的 state_dict",
        "hf_optimizer": "HF Trainer 的 optimizer.pt（checkpoint 文件夹中的一个文件）",
        "hf_scheduler": "HF Trainer 的 scheduler.pt（checkpoint 文件夹中的一个文件）",
        "hf_rng": "HF Trainer 的 rng_state.pth：Python、NumPy 和 torch 的随机数状态",
        "hf_training_args": "HF Trainer 的 training_args.bin：pickle 保存的 TrainingArguments",
        "hf_trainer_state": "HF Trainer 的 trainer_state.json：step 和 epoch 计数",
        "hf_trainer_folder": "HF Trainer 的 checkpoint 文件夹",
        "accelerate_optimizer": "Accelerate 的 optimizer.bin（save_state 文件夹中的一个文件）",
        "accelerate_scheduler": "Accelerate 的 scheduler.bin（save_state 文件夹中的一个文件）",
        "accelerate_rng": "Accelerate 的 random_states_N.pkl：一个进程的随机数状态",
        "accelerate_folder": "Accelerate 的 save_state 文件夹",
        "whole_model": "被 pickle 保存的整个模型（torch.save(model)）",
        "safetensors_weights": "safetensors 文件：只有权重",
        "dcp_shard": (
            "torch.distributed.checkpoint 的分片：一个 rank 的张量；要用 torch.distributed.checkpoint 加载整"
            "个文件夹"
        ),
        "dcp_metadata": "torch.distributed.checkpoint 的 .metadata 文件：分片的索引",
        "dcp_folder": "torch.distributed.checkpoint 文件夹",
        "folder": "一个装着 checkpoint 文件的文件夹",
        "other": "检查器不认识的布局",
    },
}

# The simulator ledger's rows, as its strings name them (RESTORE_LABELS), for the links' text.
LEDGER_ROWS = {
    "en": {
        "weights": "Weights only",
        "no_scheduler": "Everything but the scheduler",
        "no_rng": "Everything but the RNG state",
    },
    "zh": {"weights": "仅权重", "no_scheduler": "除 scheduler 外全部", "no_rng": "除随机数状态外全部"},
}

STRINGS = {"zh": ZH, "en": EN}  # registered with the component (its __init__)


def _fmt(value: object) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(str(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:.6g}"
    return "–" if value is None else str(value)


def finding_text(f: dict, lang: str) -> str:
    params = {k: _fmt(v) for k, v in (f.get("params") or {}).items()}
    if f["code"] == "optimizer_shape" and f["params"].get("index") is None:
        return i18n.t(lang, "ca.short.optimizer_shape") + (
            "（顺序无法比较，只比较了形状）。"
            if lang == "zh"
            else " (compared as shapes: the file order is not the model's)."
        )
    try:
        return i18n.t(lang, f"ca.f.{f['code']}").format(**params)
    except (KeyError, IndexError):
        return i18n.t(lang, f"ca.f.{f['code']}")


def headline(audit: dict, lang: str) -> str:
    verdict = audit["verdict"]
    label = i18n.t(lang, f"ca.verdict.{verdict}")
    if verdict == "exact":
        return label
    reasons = [
        i18n.t(lang, f"ca.short.{f['code']}")
        for f in audit["findings"]
        if f["level"] == "blocks" and f"ca.short.{f['code']}" in i18n.STRINGS[lang]
    ][:3]
    if verdict == "part":
        reasons = [kind_text(audit["kind"], lang)]
    if not reasons:
        return label
    return label + ("：" if lang == "zh" else ": ") + ("；" if lang == "zh" else "; ").join(reasons)


def kind_text(kind: str | None, lang: str) -> str:
    table = KINDS.get(lang, KINDS["en"])
    return table.get(kind or "other", table["other"])


def in_words(report: dict, lang: str) -> dict:
    """A copy of the report with the audit's headline and each finding's sentence filled in."""
    audit = report.get("audit")
    if not audit:
        return report
    out = copy.copy(report)
    out["audit"] = {
        **audit,
        "headline": headline(audit, lang),
        "findings": [{**f, "text": finding_text(f, lang)} for f in audit["findings"]],
    }
    return out


def ledger_text(mode: str, lang: str) -> str:
    return i18n.t(lang, "ca.ledger").format(row=LEDGER_ROWS.get(lang, LEDGER_ROWS["en"]).get(mode, mode))
