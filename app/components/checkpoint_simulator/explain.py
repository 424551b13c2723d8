"""Interface text of the CheckpointSimulator that explains: a state (a crash before any checkpoint,
a finished run, a cut-off file), the ledger's cost sentences and guesses, the form's errors.
Chinese and English."""

_ZH = {
    "cs.err.int_parsing": "请输入整数。",
    "cs.err.float_parsing": "请输入数字。",
    "cs.err.greater_than_equal": "不能小于 {ge}。",
    "cs.err.less_than_equal": "不能大于 {le}。",
    "cs.err.greater_than": "必须大于 {gt}。",
    "cs.err.less_than": "必须小于 {lt}。",
    "cs.err.literal_error": "请从列表中选择。",
    "cs.err.missing": "必填。",
    "cs.err.checkpoint_every_too_big": "不能超过 epoch 数。",
    "cs.err.crash_epoch_missing": "请选择在第几个 epoch 崩溃。",
    "cs.err.crash_epoch_too_big": "必须在训练的 epoch 范围内。",
    "cs.err.crash_epoch_not_saved": "保存时崩溃需要选一个会保存 checkpoint 的 epoch（{every} 的倍数）。",
    "cs.err.other": "这个值不对。",
    "cs.crash_before": (
        "第一个 checkpoint 在第 {epoch} 个 epoch 之后保存：在那之前崩溃，就没有可以恢复的东西。"
    ),
    "cs.crash_after": "最近的 checkpoint：第 {epoch} 个 epoch。",
    "cs.before_checkpoint": (
        "没有可以恢复的东西：训练在第一个 checkpoint（每 {every} 个 epoch 存一次）之前就崩溃了。这正是"
        "要存 checkpoint 的原因。开始一个新的训练，等第 {every} 个 epoch 之后再按“崩溃”。"
    ),
    "cs.ledger_no_checkpoint": (
        "没有可以比较的：磁盘上没有 checkpoint，也就无法恢复。开始一个新的训练，在第一个 checkpoint "
        "之后再让它崩溃。"
    ),
    "cs.no_ckpt_crashed": "没有：训练在第一个 checkpoint 之前就崩溃了。",
    "cs.no_ckpt_yet": "还没有：第一个在第 {every} 个 epoch 之后保存。",
    "cs.finished_note": (
        "这个训练已经跑完：从它最后的 checkpoint 恢复没有任何要训练的，每种恢复方式都会显得完美无缺。要"
        "看到恢复的代价，请开始一个预设崩溃的训练（或在训练中按“崩溃”）。"
    ),
    "cs.refused.finished": (
        "这个训练已经跑完：从最后一个 checkpoint 恢复没有任何要训练的。请开始一个预设崩溃的训练，再比较"
        "各种恢复方式。"
    ),
    "cs.naive_errno": (
        "torch.load 报的 “OSError: [Errno 22] Invalid argument” 或 “not a zip "
        "file”，说的就是这个被截断的存档。"
    ),
    "cs.cost.luck": (
        "另一条路径可能碰巧落到更低的 loss：失去的是可复现性和计划中的学习率安排，不一定是 loss。"
    ),
    "cs.scenario.why": (
        "想看代价很大的情形？带动量的 SGD、较高的学习率：只恢复权重会丢掉动量和学习率计划，loss 明显跳"
        "升、最终更差。"
    ),
    "cs.scenario.button": "一键试试：SGD（动量 0.9）、学习率 0.3、第 23 个 epoch 预设崩溃",
    "cs.refused.active": "这个训练还在进行：先让它崩溃或等它结束。",
    "cs.refused.rejected": "torch.load 在崩溃后已经拒绝了这个文件，从它恢复只会以同样的错误失败。",
    "cs.limit.active": "已到上限：同时最多 {n} 个训练在排队或运行。等一个结束再试。",
    "cs.limit.epochs": "已到上限：这台服务器上每个训练最多 {n} 个 epoch。",
    "cs.limit.stored": "已到上限：最多保留 {n} 个训练，请先删掉一个旧的。",
    "cs.limit.queue": "队列已满：{n} 个训练在等待，过一分钟再试。",
    "cs.limit.planned": "已有一组恢复在等待空位，等它们开始后再试。",
    "cs.limit.limit": "已到上限。",
    "cs.announce.started": "训练已开始，共 {total} 个 epoch。",
    "cs.announce.running": "训练中。",
    "cs.announce.crashed": "训练在第 {epoch} 个 epoch 崩溃；磁盘上还有 {n} 个 checkpoint。",
    "cs.announce.crashed_one": "训练在第 {epoch} 个 epoch 崩溃；磁盘上还有 {n} 个 checkpoint。",
    "cs.announce.done": "训练完成，共 {n} 个 checkpoint。",
    "cs.announce.done_one": "训练完成，共 {n} 个 checkpoint。",
    "cs.announce.ledger": "账本：{done} / {total} 种恢复方式已比较。",
    "cs.cost.identical": "什么也没丢：最终权重与从未崩溃的训练逐位相同。",
    "cs.cost.spike": "恢复后第一个 epoch 的训练 loss 比参考高 {pct}%",
    "cs.cost.no_spike": "恢复后第一个 epoch 的 loss 与参考相差 {pct}%",
    "cs.cost.no_spike_0": "恢复后第一个 epoch 的 loss 与参考相同（相差不到 0.5%）",
    "cs.cost.lr": "第 {epoch} 个 epoch 的学习率是 {got}，计划是 {expected}",
    "cs.cost.order": "数据顺序与参考不同",
    "cs.cost.recovery": "验证 loss {n} 个 epoch 后回到参考的 ±{margin}% 以内",
    "cs.cost.recovery_one": "验证 loss {n} 个 epoch 后回到参考的 ±{margin}% 以内",
    "cs.cost.recovery_0": "验证 loss 一直在参考的 ±{margin}% 以内",
    "cs.cost.never": "验证 loss 直到结束都没回到参考的 ±{margin}% 以内",
    "cs.cost.final.about": "最终模型差不多好（验证 loss {a}，参考 {b}）",
    "cs.cost.final.worse": "最终模型更差（验证 loss {a}，参考 {b}）",
    "cs.cost.final.better": (
        "最终验证 loss 这次反而更低（{a}，参考 {b}）——走的是另一条路径，不是计划中的那条"
    ),
    "cs.cost.not_identical": "无法复现：最终权重与参考不同（max |Δw| = {diff}）",
    "cs.cost.pending": "正在训练，和参考的比较随进度填入。",
    "cs.cost.failed": "恢复没有开始：{error}",
    "cs.conclusion.all": (
        "只有“全部恢复”与从未崩溃的训练逐位相同。其余每一种都少恢复了至少一样：优化器、scheduler "
        "或随机数状态，账本里写着各自的代价。能续训的 checkpoint 要存齐四样：权重、优化器、scheduler "
        "和随机数状态。"
    ),
    "cs.conclusion.all_mid": (
        "只有“全部恢复”与从未崩溃的训练逐位相同。从 epoch 中途恢复时，checkpoint 除了权重、优化器、sche"
        "duler 和随机数状态，还要存采样器的状态：这个 epoch 的顺序从哪个生成器状态来，以及下一批是第几"
        "批。少了位置就重新开始这个 epoch，少了顺序就跳过了错误的样本。"
    ),
    "cs.conclusion.partial": "已比较 {done} / {total} 种恢复方式；逐位相同的：{modes}。",
    "cs.conclusion.none_identical": "已比较 {done} / {total} 种恢复方式，还没有一种逐位相同。",
    "cs.guess_right": "猜对了",
    "cs.guess_wrong": "猜错了",
    "cs.guess_line": "你猜{what}：{answer}，{verdict}",
    "cs.guess.identical": "逐位相同",
    "cs.guess.spike": "loss 跳高",
}

_EN = {
    "cs.err.int_parsing": "Enter a whole number.",
    "cs.err.float_parsing": "Enter a number.",
    "cs.err.greater_than_equal": "Must be at least {ge}.",
    "cs.err.less_than_equal": "Must be at most {le}.",
    "cs.err.greater_than": "Must be greater than {gt}.",
    "cs.err.less_than": "Must be less than {lt}.",
    "cs.err.literal_error": "Pick one of the options.",
    "cs.err.missing": "Required.",
    "cs.err.checkpoint_every_too_big": "Must not exceed the number of epochs.",
    "cs.err.crash_epoch_missing": "Choose the epoch in which to crash.",
    "cs.err.crash_epoch_too_big": "Must be within the run's epochs.",
    "cs.err.crash_epoch_not_saved": (
        "A crash while saving needs an epoch at which a checkpoint is saved (a multiple of {every})."
    ),
    "cs.err.other": "This value is not valid.",
    "cs.crash_before": (
        "The first checkpoint is saved after epoch {epoch}: crash before that and there is nothing to "
        "resume from."
    ),
    "cs.crash_after": "Last checkpoint: epoch {epoch}.",
    "cs.before_checkpoint": (
        "Nothing to resume from: the run crashed before its first checkpoint (saved every {every} "
        "epochs). This is why you checkpoint. Start a new run and press Crash after epoch {every}."
    ),
    "cs.ledger_no_checkpoint": (
        "Nothing to compare: no checkpoint is on disk, so no resume is possible. Start a new run and "
        "crash it after its first checkpoint."
    ),
    "cs.no_ckpt_crashed": "None: the run crashed before its first checkpoint.",
    "cs.no_ckpt_yet": "None yet: the first is saved after epoch {every}.",
    "cs.finished_note": (
        "This run finished: its final checkpoint has nothing left to train, so every way of resuming "
        "from it would look perfect. To see what a resume costs, start a run with a planned crash (or "
        "press Crash while it trains)."
    ),
    "cs.refused.finished": (
        "This run finished: its final checkpoint has nothing left to train. Start a run with a planned "
        "crash to compare the ways of resuming."
    ),
    "cs.naive_errno": (
        "torch.load's “OSError: [Errno 22] Invalid argument” (or “not a zip file”) is how it reports "
        "such a cut-off archive."
    ),
    "cs.cost.luck": (
        "A different path can land lower by luck: what was lost is reproducibility and the planned "
        "schedule, not necessarily the loss."
    ),
    "cs.scenario.why": (
        "Want a case where the cost is large? SGD with momentum at a high learning rate: resuming the "
        "weights alone loses the momentum and the LR schedule, and the loss jumps and ends worse."
    ),
    "cs.scenario.button": "One click: SGD (momentum 0.9), LR 0.3, planned crash in epoch 23",
    "cs.refused.active": "This run is still active: crash it or wait for it to finish.",
    "cs.refused.rejected": (
        "torch.load already rejected this file after the crash; a resume from it would fail the same way."
    ),
    "cs.limit.active": (
        "Limit reached: at most {n} runs may wait or train at once. Try again when one ends."
    ),
    "cs.limit.epochs": "Limit reached: at most {n} epochs per run on this server.",
    "cs.limit.stored": "Limit reached: at most {n} runs are kept; delete an old one first.",
    "cs.limit.queue": "The queue is full: {n} runs are waiting. Try again in a minute.",
    "cs.limit.planned": "A set of resumes is already waiting for room; try again once they start.",
    "cs.limit.limit": "Limit reached.",
    "cs.announce.started": "Training started: {total} epochs.",
    "cs.announce.running": "Training.",
    "cs.announce.crashed": "Run crashed in epoch {epoch}; {n} checkpoints survive on disk.",
    "cs.announce.crashed_one": "Run crashed in epoch {epoch}; {n} checkpoint survives on disk.",
    "cs.announce.done": "Run finished with {n} checkpoints.",
    "cs.announce.done_one": "Run finished with {n} checkpoint.",
    "cs.announce.ledger": "Ledger: {done} of {total} ways compared.",
    "cs.cost.identical": ("Nothing lost: the final weights are bit-identical to the run that never crashed."),
    "cs.cost.spike": "the first epoch back had a train loss {pct}% above the reference",
    "cs.cost.no_spike": "the first epoch back was within {pct}% of the reference",
    "cs.cost.no_spike_0": "the first epoch back matched the reference (less than 0.5% apart)",
    "cs.cost.lr": "the LR in epoch {epoch} was {got} where the plan had {expected}",
    "cs.cost.order": "the data came in a different order",
    "cs.cost.recovery": "validation loss was back within ±{margin}% of the reference after {n} epochs",
    "cs.cost.recovery_one": "validation loss was back within ±{margin}% of the reference after {n} epoch",
    "cs.cost.recovery_0": "validation loss stayed within ±{margin}% of the reference",
    "cs.cost.never": "validation loss never came back within ±{margin}% of the reference",
    "cs.cost.final.about": "the final model is about as good (val. loss {a}, reference {b})",
    "cs.cost.final.worse": "the final model is worse (val. loss {a}, reference {b})",
    "cs.cost.final.better": (
        "the final val. loss is lower this time ({a}, reference {b}) — a different path, not the planned one"
    ),
    "cs.cost.not_identical": "not reproducible: the final weights differ (max |Δw| = {diff})",
    "cs.cost.pending": "Training; the comparison with the reference fills in as it goes.",
    "cs.cost.failed": "The resume never started: {error}",
    "cs.conclusion.all": (
        "Only “Everything” came back bit-identical to the run that never crashed. Every other way left "
        "out at least one piece — the optimizer, the scheduler or the RNG state — and the ledger shows "
        "what that cost. A checkpoint you can resume from holds all four: weights, optimizer, "
        "scheduler and RNG states."
    ),
    "cs.conclusion.all_mid": (
        "Only “Everything” came back bit-identical to the run that never crashed. Resuming mid-epoch, "
        "a checkpoint needs the sampler's state besides the weights, optimizer, scheduler and RNG "
        "states: which generator state the epoch's order came from, and which batch is next. Without "
        "the position the epoch starts again; without the order the wrong samples are skipped."
    ),
    "cs.conclusion.partial": "{done} of {total} ways compared; bit-identical: {modes}.",
    "cs.conclusion.none_identical": "{done} of {total} ways compared; none bit-identical yet.",
    "cs.guess_right": "right",
    "cs.guess_wrong": "wrong",
    "cs.guess_line": "You guessed {what}: {answer} — {verdict}",
    "cs.guess.identical": "bit-identical",
    "cs.guess.spike": "loss jumps",
}

STRINGS = {"zh": _ZH, "en": _EN}  # registered with the component (its __init__)
