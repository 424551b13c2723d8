"""Interface text of the CheckpointSimulator that explains a state (a crash before any checkpoint,
a finished run, a cut-off file) and the form's error messages, Chinese and English."""

from app import i18n

i18n.STRINGS["zh"].update(
    {
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
        "cs.announce.done": "训练完成，共 {n} 个 checkpoint。",
        "cs.announce.ledger": "账本：{done} / {total} 种恢复方式已比较。",
    }
)

i18n.STRINGS["en"].update(
    {
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
        "cs.announce.done": "Run finished with {n} checkpoints.",
        "cs.announce.ledger": "Ledger: {done} of {total} ways compared.",
    }
)
