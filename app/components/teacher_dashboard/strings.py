"""Interface text of teacher mode (and the learner's optional name field), Chinese and English."""

# Why a learner may need the teacher (Learner.help). Being idle is not one of them.
HELP = {
    "zh": {
        "failed": "最近一次运行失败",
        "stalled": "有一个运行超过一分钟没有进展",
        "limit": "达到运行上限",
        "exercise": "练习检查失败 3 次以上",
    },
    "en": {
        "failed": "their last run failed",
        "stalled": "a run made no progress for a minute",
        "limit": "hit a run limit",
        "exercise": "3+ failed checks of an exercise",
    },
}

# The checked exercises in one or two words, for the learners' table (the class table has the titles).
EXERCISE_SHORT = {
    "zh": {"save": "保存", "resume": "续训", "device": "GPU→CPU", "transfer": "迁移"},
    "en": {"save": "save", "resume": "resume", "device": "GPU→CPU", "transfer": "transfer"},
}

# A checked exercise's diagnosis (checkpoint_exercise's verdict codes), in a few words for the board.
DIAGNOSES = {
    "zh": {
        "optimizer": "优化器状态没有恢复",
        "scheduler": "学习率调度器状态没有恢复",
        "rng": "随机数状态没有恢复",
        "weights": "权重没有恢复",
        "epoch": "从错误的 epoch 继续",
        "mismatch": "状态都恢复了但权重不同",
        "error": "代码抛出异常",
        "memory": "超出内存上限",
        "cpu": "超出 CPU 时间上限",
        "timeout": "超时",
        "output": "输出太多",
        "killed": "进程被杀掉",
        "sandbox": "沙箱没有给出结果",
        "bound": "优化器绑定了别的模型",
        "by_name": "按名字过滤",
        "not_loaded": "形状相同的张量没有加载",
        "nothing_loaded": "什么都没有加载",
        "changed": "形状不同的张量被改动",
        "no_source": "预训练源未就绪",
        "other": "结果不同",
    },
    "en": {
        "optimizer": "optimizer state not restored",
        "scheduler": "scheduler state not restored",
        "rng": "random state not restored",
        "weights": "weights not restored",
        "epoch": "resumed at the wrong epoch",
        "mismatch": "all restored, weights still differ",
        "error": "raised an exception",
        "memory": "memory limit",
        "cpu": "CPU-time limit",
        "timeout": "time limit",
        "output": "too much output",
        "killed": "process killed",
        "sandbox": "the sandbox gave no result",
        "bound": "optimizer bound to another model",
        "by_name": "filtered by name",
        "not_loaded": "fitting tensors not loaded",
        "nothing_loaded": "nothing loaded",
        "changed": "tensors that do not fit were changed",
        "no_source": "pretrained source not ready",
        "other": "the result differs",
    },
}

# This module's interface text, registered with its component (app/components/__init__.py).
STRINGS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
STRINGS["zh"].update(
    {
        "tm.title": "教师面板",
        "tm.denied": "这是教师页面",
        "tm.denied_text": (
            "需要教师密钥。请打开服务器启动时日志里打印的链接（/teach?key=…），或查看 DATA_DIR/teacher.key。"
        ),
        "tm.wrong_key": "教师密钥不对。",
        "tm.limited": "错误的密钥太多，请 {s} 秒后再试。",
        "tm.live": "实时更新（服务器推送，不轮询）",
        "tm.leave": "退出教师模式",
        "tm.present": "投影",
        "tm.present_ledger": "投影全班的状态账本",
        "tm.export_csv": "导出 CSV",
        "tm.export_json": "导出 JSON",
        "tm.archives": "归档",
        "tm.reset": "重置班级…",
        "tm.now": "现在",
        "tm.learners": "学员",
        "tm.present_now": "在线",
        "tm.runs": "训练",
        "tm.crashed": "崩溃",
        "tm.resumes": "恢复",
        "tm.failed": "失败",
        "tm.needs_help": "需要帮助",
        "tm.idle": "空闲",
        "tm.idle_mark": "（空闲）",
        "tm.help_note": (
            "需要帮助：最近一次运行失败、有运行一分钟没有进展、某个练习检查失败 3 次以上，或达到运行上限。"
            "空闲：{m} 分钟内没有操作，只是说明，不是警报。"
        ),
        "tm.queue": "队列",
        "tm.queue_text": (
            "{waiting} 个等待，{training} 个训练中（全速最多 {workers} 个，另有 {paced} 个按观看速度）"
        ),
        "tm.ledger": "全班的状态账本",
        "tm.ledger_note": (
            "每种恢复方式：全班做了多少次恢复，多少次与不中断的参考训练逐位相同，第一个恢复 epoch 的 "
            "loss 变化中位数，以及恢复到参考水平所需 epoch 数的中位数。全部来自学员的真实运行。"
        ),
        "tm.mode": "恢复方式",
        "tm.n_resumes": "恢复次数",
        "tm.identical": "逐位相同",
        "tm.identical_of": "{n} / {of}",
        "tm.spike": "loss 变化（中位数）",
        "tm.recovery": "恢复所需 epoch（中位数）",
        "tm.none_yet": "还没有",
        "tm.learner_list": "学员",
        "tm.learner": "学员",
        "tm.status": "最新状态",
        "tm.last_seen": "最近活动",
        "tm.ago_s": "{n} 秒前",
        "tm.ago_m": "{n} 分钟前",
        "tm.show": "投影此学员",
        "tm.no_learners": "还没有学员开始训练。把章节链接（或下面的情境链接）发给学员。",
        "tm.scenario": "情境链接",
        "tm.scenario_note": (
            "设置写进链接里：学员打开后表单已经填好，勾选“锁定”的项不能改动。只改一个变量，让全班比较结果。"
        ),
        "tm.lock": "锁定",
        "tm.table": "{what}（表格）",
        "tm.mid_epoch": "每个 epoch 中途也存 checkpoint",
        "tm.on": "开",
        "tm.off": "关",
        "tm.lang_of_link": "链接的语言",
        "tm.copy_link": "复制这个情境的链接",
        "tm.scenario_invalid": "还没有链接：先改正标出的设置（学员提交时会看到同样的提示）：",
        "tm.reset_title": "重置班级",
        "tm.reset_text": (
            "当前班级（{what}）会被归档：文件留在磁盘上，可以在“归档”里查看、"
            "下载和恢复。之后面板从空白的新班级开始，学员编号从 1 重新开始。"
        ),
        "tm.counted": (
            "训练：学员从表单开始的训练；恢复：从某个 checkpoint 继续的训练。服务器自己训练的参考不计在内。"
        ),
        "tm.size": "{learners}，{runs}，{resumes}",
        "tm.size_old": "{learners}，{runs}",
        "tm.count_learners": "{n} 位学员",
        "tm.count_learners_one": "{n} 位学员",
        "tm.count_runs": "{n} 次训练",
        "tm.count_runs_one": "{n} 次训练",
        "tm.count_resumes": "{n} 次恢复",
        "tm.count_resumes_one": "{n} 次恢复",
        "tm.count_rows": "{n} 次运行（训练和恢复）",
        "tm.count_rows_one": "{n} 次运行（训练和恢复）",
        "tm.reset_confirm": "我确认：归档当前班级并开始新班级",
        "tm.reset_do": "归档并重置",
        "tm.reset_need_confirm": "请先勾选确认。",
        "tm.cancel": "取消",
        "tm.archived": "已归档（{what}）。新班级开始了。",
        "tm.archives_title": "归档的班级",
        "tm.archives_none": "还没有归档。",
        "tm.archive_when": "归档时间",
        "tm.archive_size": "内容",
        "tm.archive_state": "恢复",
        "tm.archives_note": "恢复之后归档仍然列在这里，可以随时下载。",
        "tm.restore": "恢复到当前班级…",
        "tm.restore_title": "恢复归档的班级",
        "tm.restore_text": "{when} 归档的班级（{what}）会放回当前班级，和现有的运行合在一起。",
        "tm.restore_note": (
            "学员恢复后仍是归档里的编号（和下载的 CSV 一致）；当前班级里编号冲突的学员改用下一个空编号。"
            "归档仍然保留在列表里。"
        ),
        "tm.restore_confirm": "我确认：把这个归档放回当前班级",
        "tm.restore_do": "恢复",
        "tm.restore_need_confirm": "请先勾选确认。",
        "tm.restored": "已恢复 {when} 归档的班级（{what}）。",
        "tm.restored_on": "已于 {when} 恢复",
        "tm.no_archive": "没有这个归档。",
        "tm.download_csv": "CSV",
        "tm.back": "返回面板",
        "tm.chart_title": "{label} 的训练 loss",
        "tm.epoch": "epoch",
        "tm.loss": "训练 loss",
        "tm.series_first": "第一次训练",
        "tm.series_resume": "恢复：{mode}",
        "tm.series_reference": "不中断的参考",
        "tm.crash": "崩溃",
        "tm.no_runs": "这位学员还没有运行。",
        "tm.no_learner": "没有这位学员。",
        "tm.present_class": "全班",
        "tm.present_summary": "{present} · {runs} · {crashed} 次崩溃 · {resumes}",
        "tm.count_present": "{n} 位学员在线",
        "tm.count_present_one": "{n} 位学员在线",
        "tm.exit_present": "返回面板",
        "tm.learner_summary": "{runs} 次训练 · {crashed} 次崩溃 · {resumes} 次恢复 · 最新：{status}",
        "tm.locked_note": "老师已锁定",
        "tm.name_title": "课堂上的名字（可选）",
        "tm.name_label": "老师在面板上看到的名字",
        "tm.name_note": "可以不填：老师只会看到“学员 N”这样的匿名编号。只保存这个名字，不保存别的信息。",
        "tm.name_save": "保存",
        "tm.name_saved": "已保存：老师看到的是“{name}”。",
        "tm.name_cleared": "已清除：老师看到的是匿名编号。",
        "tm.name_need_session": "请刷新页面后再试。",
        "tm.ex_title": "代码练习",
        "tm.ex_note": (
            "每个练习：多少位学员做过检查、多少位已解决、失败的检查有多少次，以及失败检查里最常见的诊断。"
            "检查在沙箱里真实运行学员的代码。"
        ),
        "tm.ex_exercise": "练习",
        "tm.ex_tried": "做过",
        "tm.ex_solved": "已解决",
        "tm.ex_failed": "失败的检查",
        "tm.ex_top": "最常见的诊断",
        "tm.ex_none": "还没有学员运行过练习检查。",
        "tm.ex_learner_solved": "解决的练习",
        "tm.ex_learner_checks": "检查（失败）",
        "tm.ex_checks_text": "{checks}（{failed}）",
        "tm.ex_top_text": "{name}（{n} 次）",
    }
)

STRINGS["en"].update(
    {
        "tm.title": "Teacher dashboard",
        "tm.denied": "This is a teacher page",
        "tm.denied_text": (
            "It needs the teacher key. Open the link the server printed in its log at start "
            "(/teach?key=…), or read DATA_DIR/teacher.key."
        ),
        "tm.wrong_key": "That teacher key is not right.",
        "tm.limited": "Too many wrong keys; try again in {s} s.",
        "tm.live": "Live (the server pushes changes; nothing polls)",
        "tm.leave": "Leave teacher mode",
        "tm.present": "Present",
        "tm.present_ledger": "Present the class ledger",
        "tm.export_csv": "Export CSV",
        "tm.export_json": "Export JSON",
        "tm.archives": "Archives",
        "tm.reset": "Reset the class…",
        "tm.now": "Now",
        "tm.learners": "learners",
        "tm.present_now": "present",
        "tm.runs": "runs",
        "tm.crashed": "crashed",
        "tm.resumes": "resumes",
        "tm.failed": "failed",
        "tm.needs_help": "need help",
        "tm.idle": "idle",
        "tm.idle_mark": "(idle)",
        "tm.help_note": (
            "Need help: their last run failed, a run made no progress for a minute, 3+ failed checks of "
            "an exercise, or a run limit reached. Idle: nothing done for {m} min; a note, not an alarm."
        ),
        "tm.queue": "Queue",
        "tm.queue_text": (
            "{waiting} waiting, {training} training (at most {workers} at full speed and {paced} at a "
            "watching pace)"
        ),
        "tm.ledger": "The class's state ledger",
        "tm.ledger_note": (
            "For each way of resuming: how many resumes the class ran, how many ended bit-identical to "
            "the uninterrupted reference, the median change of the first resumed epoch's loss, and the "
            "median epochs until the held-out loss was back. All from the learners' real runs."
        ),
        "tm.mode": "Restore mode",
        "tm.n_resumes": "resumes",
        "tm.identical": "bit-identical",
        "tm.identical_of": "{n} of {of}",
        "tm.spike": "loss change (median)",
        "tm.recovery": "epochs to recover (median)",
        "tm.none_yet": "none yet",
        "tm.learner_list": "Learners",
        "tm.learner": "Learner",
        "tm.status": "latest",
        "tm.last_seen": "last activity",
        "tm.ago_s": "{n} s ago",
        "tm.ago_m": "{n} min ago",
        "tm.show": "Present",
        "tm.no_learners": (
            "No learner has started a run yet. Hand out the chapter's link (or a scenario link below)."
        ),
        "tm.scenario": "Scenario link",
        "tm.scenario_note": (
            "The settings go into the link: learners who open it find the form filled in, and the locked "
            "controls cannot be changed. Change one variable and let the class compare."
        ),
        "tm.lock": "lock",
        "tm.table": "{what} (table)",
        "tm.mid_epoch": "Mid-epoch checkpoints",
        "tm.on": "on",
        "tm.off": "off",
        "tm.lang_of_link": "Language of the link",
        "tm.copy_link": "Copy the link for this scenario",
        "tm.scenario_invalid": (
            "No link yet: first fix the settings marked (learners would see the same message):"
        ),
        "tm.reset_title": "Reset the class",
        "tm.reset_text": (
            "The current class ({what}) will be archived: its files stay "
            "on disk and can be listed, downloaded and restored under Archives. The dashboard then "
            "starts from a fresh class, numbering learners from 1 again."
        ),
        "tm.counted": (
            "Runs: the training runs learners started from the form; resumes: runs continued from one of "
            "their checkpoints. The reference runs the server trains itself are not counted."
        ),
        "tm.size": "{learners}, {runs} and {resumes}",
        "tm.size_old": "{learners}, {runs}",
        "tm.count_learners": "{n} learners",
        "tm.count_learners_one": "{n} learner",
        "tm.count_runs": "{n} runs",
        "tm.count_runs_one": "{n} run",
        "tm.count_resumes": "{n} resumes",
        "tm.count_resumes_one": "{n} resume",
        "tm.count_rows": "{n} runs and resumes",
        "tm.count_rows_one": "{n} run or resume",
        "tm.reset_confirm": "I am sure: archive the current class and start a fresh one",
        "tm.reset_do": "Archive and reset",
        "tm.reset_need_confirm": "Tick the confirmation first.",
        "tm.cancel": "Cancel",
        "tm.archived": "Archived ({what}). A fresh class has started.",
        "tm.archives_title": "Archived classes",
        "tm.archives_none": "Nothing archived yet.",
        "tm.archive_when": "archived",
        "tm.archive_size": "class",
        "tm.archive_state": "restore",
        "tm.archives_note": "An archive stays listed after a restore, and can still be downloaded.",
        "tm.restore": "Restore into the current class…",
        "tm.restore_title": "Restore an archived class",
        "tm.restore_text": (
            "The class archived on {when} ({what}) goes back into the current class, alongside any runs "
            "there now."
        ),
        "tm.restore_note": (
            "Its learners keep the numbers they have in the archive (and in its CSV); a learner of the "
            "current class whose number one of them takes moves to the next free number. The archive "
            "stays listed."
        ),
        "tm.restore_confirm": "I am sure: put this archive back into the current class",
        "tm.restore_do": "Restore",
        "tm.restore_need_confirm": "Tick the confirmation first.",
        "tm.restored": "The class archived on {when} is back ({what}).",
        "tm.restored_on": "restored on {when}",
        "tm.no_archive": "There is no such archive.",
        "tm.download_csv": "CSV",
        "tm.back": "Back to the dashboard",
        "tm.chart_title": "Training loss of {label}",
        "tm.epoch": "epoch",
        "tm.loss": "training loss",
        "tm.series_first": "first run",
        "tm.series_resume": "resume: {mode}",
        "tm.series_reference": "uninterrupted reference",
        "tm.crash": "crash",
        "tm.no_runs": "This learner has no runs yet.",
        "tm.no_learner": "There is no such learner.",
        "tm.present_class": "The class",
        "tm.present_summary": "{present} · {runs} · {crashed} crashed · {resumes}",
        "tm.count_present": "{n} learners present",
        "tm.count_present_one": "{n} learner present",
        "tm.exit_present": "Back to the dashboard",
        "tm.learner_summary": "runs: {runs} · crashed: {crashed} · resumes: {resumes} · latest: {status}",
        "tm.locked_note": "locked by your teacher",
        "tm.name_title": "Your name in class (optional)",
        "tm.name_label": "Name your teacher sees on the dashboard",
        "tm.name_note": (
            "You may leave it empty: the teacher then sees an anonymous number "
            '("learner N"). Only this name is kept, nothing else.'
        ),
        "tm.name_save": "Save",
        "tm.name_saved": "Saved: your teacher sees \u201c{name}\u201d.",
        "tm.name_cleared": "Cleared: your teacher sees an anonymous number.",
        "tm.name_need_session": "Reload the page and try again.",
        "tm.ex_title": "Checked exercises",
        "tm.ex_note": (
            "For each exercise: how many learners ran a check, how many solved it, how many checks "
            "failed, and the diagnosis the failed checks got most often. The checks run the learners' "
            "own code in the sandbox."
        ),
        "tm.ex_exercise": "Exercise",
        "tm.ex_tried": "tried",
        "tm.ex_solved": "solved",
        "tm.ex_failed": "failed checks",
        "tm.ex_top": "most common diagnosis",
        "tm.ex_none": "No learner has run an exercise check yet.",
        "tm.ex_learner_solved": "exercises solved",
        "tm.ex_learner_checks": "checks (failed)",
        "tm.ex_checks_text": "{checks} ({failed})",
        "tm.ex_top_text": "{name} ({n}×)",
    }
)
