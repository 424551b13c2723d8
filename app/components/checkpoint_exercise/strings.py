"""Interface text of the CheckpointExercise, Chinese and English, and the verdict in words."""

from __future__ import annotations

# This module's interface text, registered with its component (app/components/__init__.py).
STRINGS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
STRINGS["zh"].update(
    {
        "cx.editor": "你的代码",
        "cx.editor_help": "Tab 键缩进；按 Esc 后再按 Tab 可离开编辑框。",
        "cx.run": "运行检查",
        "cx.reset": "恢复初始代码",
        "cx.running": "检查中：用你的代码训练，SIGKILL 进程，在新进程里续训，再逐位比较……",
        "cx.waiting": "排队中：前面还有 {n} 个检查。",
        "cx.waiting_one": "排队中：前面还有 {n} 个检查。",
        "cx.solved": "已解决",
        "cx.solved_text": (
            "逐位一致：被 SIGKILL 的训练从你的 checkpoint 续训后，最终权重和不中断的训练完全相同（包括隐"
            "藏检查）。"
        ),
        "cx.failed_title": "还不对",
        "cx.solved_text_transfer": (
            "逐个张量都对：每个形状相同的张量都来自预训练源，形状不同的都保持了初始化（包括隐藏检查：另一"
            "个分类数、更宽的一层）。"
        ),
        "cx.show_anyway": "直接看参考答案",
        "cx.busy_button": "检查进行中……",
        "cx.cancelled": "老师清空了检查队列：你的代码没有被检查，可以再运行一次。",
        "cx.queue": "代码练习的检查队列",
        "cx.queue_counts": (
            "排队 {waiting} 个（最多 {max} 个），运行中 {running} 个；同一地址最多 {per} 个，现在最多的地"
            "址有 {top} 个。"
        ),
        "cx.queue_empty": "没有排队的检查。",
        "cx.queue_clear": "清空排队的检查",
        "cx.queue_cleared": "已清空 {n} 个排队的检查；学生会看到提示，可以再运行。",
        "cx.queue_cleared_one": "已清空 {n} 个排队的检查；学生会看到提示，可以再运行。",
        "cx.queue_exercise": "练习",
        "cx.queue_status": "状态",
        "cx.queue_learner": "学生",
        "cx.queue_waited": "已等待",
        "cx.queue_waiting": "排队",
        "cx.queue_running": "运行中",
        "cx.hint": "提示",
        "cx.show_solution": "显示参考答案",
        "cx.solution": "参考答案",
        "cx.output": "你的代码输出",
        "cx.output_cut": "（输出太长，只显示前 {kb} KB）",
        "cx.checks": "检查",
        "cx.check_row": "种子 {seed}，第 {crash} 个 epoch 后崩溃",
        "cx.hidden": "隐藏检查",
        "cx.identical": "逐位一致",
        "cx.differs": "不同（最大 |Δw| = {d}）",
        "cx.differs_plain": "不同",
        "cx.mode_assemble": (
            "这台服务器上不能安全地运行自由代码（{why}），所以这里是“组装”模式：从下面的代码行中选出需要"
            "的行并排好顺序，服务器照样真实地训练、崩溃、续训并比较。"
        ),
        "cx.mode_assemble_chosen": (
            "组装模式：从下面的代码行中选出需要的行并排好顺序，服务器真实地训练、崩溃、续训并比较。"
        ),
        "cx.mode_off": "这台服务器关闭了代码练习（CODE_EXERCISES=off）。",
        "cx.bank": "代码行：为每一行选择位置，不需要的行留空",
        "cx.position": "位置",
        "cx.unused": "不用",
        "cx.unknown": "本章引用了不存在的练习 “{name}”。",
        "cx.timing": "用时 {s} 秒",
        "cx.progress_solved": "已解决的练习",
        "cx.transfer_row": "{classes} 类{wider}",
        "cx.wider": "，最后一个 block 更宽",
    }
)
STRINGS["en"].update(
    {
        "cx.editor": "Your code",
        "cx.editor_help": "Tab indents; press Esc, then Tab, to leave the editor.",
        "cx.run": "Run the check",
        "cx.reset": "Reset to the scaffold",
        "cx.running": (
            "Checking: training with your code, SIGKILLing it, resuming in a fresh process, comparing "
            "bit for bit…"
        ),
        "cx.waiting": "Waiting: {n} checks ahead of yours.",
        "cx.waiting_one": "Waiting: {n} check ahead of yours.",
        "cx.solved": "Solved",
        "cx.solved_text": (
            "Bit-identical: the SIGKILLed run, resumed from your checkpoint, ends with exactly the "
            "weights of an uninterrupted run (hidden check included)."
        ),
        "cx.solved_text_transfer": (
            "Right tensor by tensor: every tensor whose shape fits came from the "
            "pretrained source, and every other one kept its initialisation "
            "(hidden checks included: another class count, a wider block)."
        ),
        "cx.show_anyway": "Show me the solution",
        "cx.busy_button": "A check is running…",
        "cx.cancelled": "The teacher cleared the check queue: your code was not checked; run it again.",
        "cx.queue": "Code exercise check queue",
        "cx.queue_counts": (
            "{waiting} waiting (at most {max}), {running} running; at most {per} "
            "per address, the busiest address has {top}."
        ),
        "cx.queue_empty": "No checks are waiting.",
        "cx.queue_clear": "Clear the waiting checks",
        "cx.queue_cleared": "Cleared {n} waiting checks; the learners are told and may run them again.",
        "cx.queue_cleared_one": "Cleared {n} waiting check; its learner is told and may run it again.",
        "cx.queue_exercise": "Exercise",
        "cx.queue_status": "Status",
        "cx.queue_learner": "Learner",
        "cx.queue_waited": "Waited",
        "cx.queue_waiting": "waiting",
        "cx.queue_running": "running",
        "cx.failed_title": "Not yet",
        "cx.hint": "Hint",
        "cx.show_solution": "Show the reference solution",
        "cx.solution": "Reference solution",
        "cx.output": "What your code printed",
        "cx.output_cut": "(long output: the first {kb} KB)",
        "cx.checks": "Checks",
        "cx.check_row": "seed {seed}, crash after epoch {crash}",
        "cx.hidden": "hidden check",
        "cx.identical": "bit-identical",
        "cx.differs": "differs (max |Δw| = {d})",
        "cx.differs_plain": "differs",
        "cx.mode_assemble": (
            "Free code cannot run safely on this server ({why}), so this is assemble mode: pick the "
            "lines you need from the bank below and put them in order; the server still trains, crashes, "
            "resumes and compares for real."
        ),
        "cx.mode_assemble_chosen": (
            "Assemble mode: pick the lines you need from the bank below and put them in order; the "
            "server trains, crashes, resumes and compares for real."
        ),
        "cx.mode_off": "Code exercises are switched off on this server (CODE_EXERCISES=off).",
        "cx.bank": "Lines: give each line you need its position; leave the others empty",
        "cx.position": "position",
        "cx.unused": "not used",
        "cx.unknown": "This chapter refers to an exercise that does not exist: “{name}”.",
        "cx.timing": "took {s} s",
        "cx.progress_solved": "solved exercises",
        "cx.transfer_row": "{classes} classes{wider}",
        "cx.wider": ", a wider last block",
    }
)

REFUSED = {
    "zh": {
        "too_big": "代码超过 {kb} KB，没有运行。练习只需要几十行。",
        "busy": "你的上一个检查还在进行，请等它结束。",
        "rate": "一分钟内的检查次数已达上限，请稍等再试。",
        "full": "现在排队的检查太多了，请过一会儿再试。",
        "busy_other": "“{title}”的检查还在进行：它的结果显示在那个练习下面。等它结束再运行这个。",
        "address": "你所在网络已有 {n} 个检查在排队，请等其中一些结束再试。",
        "cancelled": "老师清空了检查队列：你的代码没有被检查，可以再运行一次。",
        "empty": "没有代码可以检查。",
        "unknown": "没有这个练习。",
        "off": "这台服务器关闭了代码练习。",
        "assemble_only": "这台服务器只接受组装模式的答案。",
        "no_session": "请先打开课程页面。",
    },
    "en": {
        "too_big": "The code is over {kb} KB and was not run. The exercise needs a few dozen lines.",
        "busy": "Your previous check is still running; wait for it to finish.",
        "rate": "That is the most checks a minute allows; try again shortly.",
        "full": "Too many checks are waiting right now; try again in a moment.",
        "busy_other": (
            "The check of “{title}” is still running; its result appears under "
            "that exercise. Run this one when it has finished."
        ),
        "address": "{n} checks from your network are already waiting; try again when some have finished.",
        "cancelled": "The teacher cleared the check queue: your code was not checked; run it again.",
        "empty": "There is no code to check.",
        "unknown": "There is no such exercise.",
        "off": "Code exercises are switched off on this server.",
        "assemble_only": "This server only accepts assemble-mode answers.",
        "no_session": "Open a page of the lesson first.",
    },
}

_WHERE = {
    "zh": {
        "check": "检查（种子 {seed}，第 {crash} 个 epoch 后崩溃）",
        "hidden": "隐藏检查（种子 {seed}，第 {crash} 个 epoch 后崩溃）",
    },
    "en": {
        "check": "the check (seed {seed}, crash after epoch {crash})",
        "hidden": "a hidden check (seed {seed}, crash after epoch {crash})",
    },
}

HEADLINES = {
    "zh": {
        "solved": "已解决：逐位一致。",
        "optimizer": "优化器状态没有恢复：续训后 Adam 的动量从零开始。",
        "scheduler": "续训后学习率跳变：学习率调度器的状态没有恢复。",
        "rng": "续训后数据顺序变了：随机数状态没有恢复（或恢复后又被改动）。",
        "weights": "续训时模型权重不是保存时的权重。",
        "epoch": "从错误的 epoch 继续。",
        "mismatch": "状态都恢复了，但最终权重仍然不同。",
        "error": "代码抛出了异常。",
        "memory": "代码申请的内存超过了检查允许的上限。",
        "cpu": "代码用完了 CPU 时间上限（死循环？）。",
        "timeout": "检查超时，被停止了（死循环或一直在等待？）。",
        "output": "输出太多，检查被停止了。",
        "killed": "进程被系统杀掉了（内存或进程数超限）。",
        "sandbox": "检查没能完成（沙箱没有给出结果）。",
        "bound": "优化器更新的不是这个模型的参数。",
        "by_name": "按名字过滤了：形状对得上的分类头没有加载。",
        "not_loaded": "有形状相同的张量没有从预训练源加载。",
        "nothing_loaded": "一个预训练张量都没有加载。",
        "changed": "形状不同的张量被改动了。",
        "no_source": "预训练源还没准备好（服务器正在预训练），请过一分钟再试。",
        "other": "结果不同。",
    },
    "en": {
        "solved": "Solved: bit-identical.",
        "optimizer": "The optimizer state was not restored: after the resume Adam's moments start from zero.",
        "scheduler": "The learning rate jumps after the resume: the LR scheduler's state was not restored.",
        "rng": (
            "The data order changes after the resume: the random state was not restored (or was changed "
            "after restoring)."
        ),
        "weights": "The resumed run did not start from the saved weights.",
        "epoch": "Training continues from the wrong epoch.",
        "mismatch": "Everything was restored, yet the final weights differ.",
        "error": "Your code raised an exception.",
        "memory": "The code asked for more memory than the check allows.",
        "cpu": "The code used up its CPU-time limit (an endless loop?).",
        "timeout": "The check took too long and was stopped (an endless loop, or waiting forever?).",
        "output": "Too much output: the check was stopped.",
        "killed": "The process was killed by the system (memory or process limit).",
        "sandbox": "The check could not finish (the sandbox gave no result).",
        "bound": "The optimizer updates tensors that are not this model's parameters.",
        "by_name": "Filtered by name: a head whose shape fits was not loaded.",
        "not_loaded": "Tensors whose shapes fit were not loaded from the pretrained source.",
        "nothing_loaded": "Not one pretrained tensor was loaded.",
        "changed": "Tensors whose shapes differ were changed.",
        "no_source": (
            "The pretrained source is not ready yet (the server is pretraining it); try again in a minute."
        ),
        "other": "The result differs.",
    },
}


def _n(x: float) -> str:
    return f"{x:.4g}"


def explain(lang: str, exercise: dict, v: dict) -> dict:
    """{"headline", "lines": [...], "error": {...} | None} for a verdict, in the page's language."""
    zh = lang == "zh"
    d = v.get("details") or {}
    code = v["diagnosis"]
    lines: list[str] = []
    where = None
    if "seed" in d and "crash_after" in d:
        where = _WHERE[lang]["hidden" if d.get("hidden") else "check"].format(
            seed=d["seed"], crash=d["crash_after"]
        )
    ev = d.get("evidence") or {}
    if code == "error":
        phase_zh = {"save": "保存", "load": "加载", "reference": "参考训练"}.get(str(d.get("phase")), "")
        if d.get("where") == "lesson":
            lines.append(
                (
                    f"课程的{'加载' if d.get('phase') == 'load' else '保存'}代码"
                    "读写你的 checkpoint 时，torch 报错："
                )
                if zh
                else (
                    f"The lesson's {'loader' if d.get('phase') == 'load' else 'saver'} "
                    "failed on your checkpoint; torch said:"
                )
            )
        elif d.get("line"):
            lines.append(
                f"第 {d['line']} 行（{phase_zh}阶段）："
                if zh
                else f"Line {d['line']} (while {'saving' if d.get('phase') == 'save' else 'loading'}):"
            )
        if d.get("hidden"):
            wider = d.get("variant") == "wider_block"
            lines.insert(
                0,
                ("隐藏检查" + ("（最后一个 block 更宽）" if wider else "") + "出错了，可见的检查没有。")
                if zh
                else (
                    "A hidden check"
                    + (" (a wider last block)" if wider else "")
                    + " raised; the visible one did not."
                ),
            )
        blocked = (d.get("message") or "").removesuffix(" is not available in the exercise sandbox")
        if blocked != (d.get("message") or ""):
            lines.insert(
                0,
                f"练习沙箱里不能使用 {blocked}：检查只需要 torch 和你的函数。"
                if zh
                else (
                    f"{blocked} is not available in the exercise sandbox: "
                    "the check needs only torch and your functions."
                ),
            )
        return {
            "headline": HEADLINES[lang]["error"],
            "lines": lines,
            "error": {"type": d.get("type"), "message": d.get("message"), "line": d.get("line")},
        }
    if code == "epoch":
        if zh:
            lines.append(
                f"{where}：checkpoint 保存于第 {d['crash_after']} 个 epoch 之后，"
                f"应该从第 {d['expected_start']} 个继续，"
                f"实际从第 {d['start_epoch']} 个继续。"
            )
        else:
            lines.append(
                f"In {where}: the checkpoint was saved after epoch {d['crash_after']}, "
                f"so training should continue at epoch {d['expected_start']}; "
                f"it continued at {d['start_epoch']}."
            )
        if d.get("visible_passed"):
            lines.append(
                "可见的检查通过了，隐藏检查没有：是不是把 epoch 写死了？"
                if zh
                else "The visible check passed and the hidden one did not: is the epoch hard-coded?"
            )
    elif code in ("optimizer", "scheduler", "rng", "weights", "mismatch", "other"):
        if where and d.get("hidden"):
            lines.append(f"{where}没有通过。" if zh else f"It fails {where}.")
        if code == "bound":
            lines.append(
                "先建好模型、加载并搬到目标设备，再用 model.parameters() 建优化器。"
                if zh
                else "Build, load and move the model first, then build the optimizer from model.parameters()."
            )
        if code == "scheduler" and d.get("lr_now") is not None and d.get("lr_now") != d.get("lr_truth"):
            lines.append(
                f"恢复后学习率是 {_n(d['lr_now'])}，保存时是 {_n(d['lr_truth'])}。"
                if zh
                else (
                    f"Right after the resume the LR was {_n(d['lr_now'])}; "
                    f"when saved it was {_n(d['lr_truth'])}."
                )
            )
        loss = ev.get("loss")
        if code == "optimizer" and loss:
            jump = loss["resumed"] > loss["reference"]
            lines.append(
                (
                    f"续训后的第 {loss['epoch']} 个 epoch：平均损失 {_n(loss['resumed'])}，"
                    f"不中断的训练是 {_n(loss['reference'])}。"
                    + ("损失跳升：Adam 的动量和二阶矩从零开始，前几步迈得太大。" if jump else "")
                )
                if zh
                else (
                    f"Epoch {loss['epoch']} after the resume: mean loss {_n(loss['resumed'])}, "
                    f"where the uninterrupted run had {_n(loss['reference'])}."
                    + (
                        (
                            " The loss jumps: Adam's moment estimates restarted from zero, so the first "
                            "steps were too large."
                        )
                        if jump
                        else ""
                    )
                )
            )
        lr = ev.get("lr")
        if lr and code in ("scheduler", "optimizer"):
            lines.append(
                (
                    f"第 {lr['epoch']} 个 epoch 的学习率是 {_n(lr['resumed'])}，"
                    f"不中断的训练用的是 {_n(lr['reference'])}。"
                )
                if zh
                else (
                    f"Epoch {lr['epoch']} ran at LR {_n(lr['resumed'])}; "
                    f"the uninterrupted run used {_n(lr['reference'])}."
                )
            )
        order = ev.get("order")
        if order and code in ("rng",):
            same = order.get("like_epoch_1")
            lines.append(
                (
                    f"续训后的第 {order['epoch']} 个 epoch 用了不同的数据顺序"
                    + ("——和第 1 个 epoch 的顺序一模一样：随机数生成器从种子重新开始了。" if same else "。")
                )
                if zh
                else (
                    f"Epoch {order['epoch']} after the resume saw the samples in a different order"
                    + (
                        " — the very order of epoch 1: the generator restarted from the seed."
                        if same
                        else "."
                    )
                )
            )
        missing = [m for m in d.get("missing", []) if m != code]
        if missing:
            names = {
                "zh": {
                    "weights": "模型权重",
                    "optimizer": "优化器状态",
                    "scheduler": "调度器状态",
                    "rng": "随机数状态",
                },
                "en": {
                    "weights": "model weights",
                    "optimizer": "optimizer state",
                    "scheduler": "scheduler state",
                    "rng": "random state",
                },
            }[lang]
            lines.append(
                ("同样没有恢复：" if zh else "Also not restored: ")
                + ("、" if zh else ", ").join(names[m] for m in missing)
            )
        if d.get("max_abs_diff") is not None:
            lines.append(
                f"最终权重的最大差异 |Δw| = {d['max_abs_diff']:.3g}。"
                if zh
                else f"Final weights differ by up to |Δw| = {d['max_abs_diff']:.3g}."
            )
    elif code in ("by_name", "not_loaded", "nothing_loaded", "changed"):
        wider = d.get("variant") == "wider_block"
        what = (
            (f"{d.get('classes')} 类" + ("、最后一个 block 更宽" if wider else ""))
            if zh
            else (f"{d.get('classes')} classes" + (", a wider last block" if wider else ""))
        )
        if d.get("hidden"):
            lines.append(f"隐藏检查（{what}）没有通过。" if zh else f"It fails a hidden check ({what}).")
        lines.append(
            f"加载了 {d.get('loaded')} 个张量，应该是 {d.get('should')} 个。"
            if zh
            else f"{d.get('loaded')} tensors loaded, where {d.get('should')} fit."
        )
        keys = d.get("not_loaded") or d.get("changed") or []
        if keys:
            lines.append(("没有加载的：" if zh else "Not loaded: ") + ", ".join(keys))
    elif code == "output":
        lines.append(
            f"你的代码输出了 {d.get('kb', 0)} KB 以上；打印几行就够了。"
            if zh
            else f"Your code printed over {d.get('kb', 0)} KB; a few lines are enough."
        )
    elif code in ("cpu", "timeout"):
        lines.append(
            "服务器和其他同学不受影响。" if zh else "The server and everybody else were not affected."
        )
    return {"headline": HEADLINES[lang].get(code, HEADLINES[lang]["other"]), "lines": lines, "error": None}


def hint(lang: str, exercise: dict, v: dict) -> str:
    hints = exercise["hints"][lang]
    return hints.get(v["diagnosis"]) or hints["other"]
