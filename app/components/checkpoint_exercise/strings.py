"""Interface text of the CheckpointExercise, Chinese and English (the verdict in words: words.py)."""

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
