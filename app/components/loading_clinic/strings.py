"""Interface text of the LoadingClinic, Chinese and English."""

from app.components.loading_clinic.fixes_en import FIXES_EN
from app.components.loading_clinic.fixes_zh import FIXES_ZH

CASES = {
    "zh": {
        "renamed_layer": "层改了名字：missing / unexpected keys",
        "dataparallel_prefix": "来自 nn.DataParallel：每个 key 都带 module. 前缀",
        "size_mismatch": "类别数不同：size mismatch",
        "cuda_checkpoint": "GPU 上保存的 checkpoint，在只有 CPU 的机器上加载",
        "truncated_file": "文件被截断：保存到一半进程就死了",
        "resume_order": "续训顺序：先建了优化器、加载了状态，才移动模型",
        "unfreeze_groups": "解冻后优化器的参数组变了，旧状态加载不进去",
        "compile_prefix": "torch.compile 之后保存：每个 key 都带 _orig_mod. 前缀",
        "numpy_weights_only": "checkpoint 里有 NumPy 对象，weights_only=True 拒绝加载",
        "safetensors_shared": "safetensors 与共享内存的张量（权重绑定）",
    },
    "en": {
        "renamed_layer": "A layer was renamed: missing / unexpected keys",
        "dataparallel_prefix": "Saved from nn.DataParallel: every key starts with module.",
        "size_mismatch": "A different number of classes: size mismatch",
        "cuda_checkpoint": "A checkpoint saved on a GPU, loaded on a CPU-only machine",
        "truncated_file": "A truncated file: the process died while saving",
        "resume_order": "Resume order: the optimizer was built and loaded before the model moved",
        "unfreeze_groups": "Unfreezing changed the optimizer's groups: the old state no longer loads",
        "compile_prefix": "Saved after torch.compile: every key starts with _orig_mod.",
        "numpy_weights_only": "NumPy inside a checkpoint, refused by weights_only=True",
        "safetensors_shared": "safetensors and tensors that share memory (tied weights)",
    },
}

# Each candidate fix: a one-line label, and why it works or fails (shown after it ran).
FIXES = {"zh": FIXES_ZH, "en": FIXES_EN}  # each case's fixes: (label, why it works or does not)

# This module's interface text, registered with its component (app/components/__init__.py).
STRINGS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
STRINGS["zh"].update(
    {
        "cl.title": "交互演示：加载错误门诊",
        "cl.intro": (
            "每个病例都会在服务器上真的造出一个出问题的 checkpoint，运行出错的代码。"
            "你来选修复方案，服务器当场运行它：错误信息是 PyTorch（或 safetensors）"
            "给出的原文，修好了就给出证据。"
        ),
        "cl.pick": "选一个病例：",
        "cl.broken": "出错的代码",
        "cl.error": "PyTorch 的真实报错",
        "cl.error_from": "{lib} 的真实报错",
        "cl.no_error": "（没有报错）",
        "cl.fix": "修复",
        "cl.fix_failed": "修复后的代码也报错了：",
        "cl.evidence": "证据：修复真的生效了",
        "cl.fixed": "已修复：权重确实加载进来了。",
        "cl.not_fixed": "没有得到修复成功的证据。",
        "cl.unknown_case": "没有这个病例，可选：{names}",
        "cl.unknown_fix": "这个病例没有这个修复方案，可选：{names}",
        "cl.exercise": "你会怎么修？选一个，服务器会真的运行它：",
        "cl.try": "运行这个修复",
        "cl.your_fix": "你选的修复：",
        "cl.it_raised": "它也报错了——PyTorch 的原文：",
        "cl.it_raised_from": "它也报错了——{lib} 的原文：",
        "cl.no_raise_not_fixed": "没有报错，但问题并没有解决。",
        "cl.why": "为什么：",
        "cl.checks": "检查",
        "cl.check_ok": "通过",
        "cl.check_bad": "未通过",
        "cl.solved": "已解决",
        "cl.explored": "已探索",
        "cl.marks": "✓ 已解决：第一次选的就是正确的修复；已探索：试过别的修复之后才找到。",
        "cl.selected": "当前病例",
        "cl.try_another": "换一个试试。",
    }
)
STRINGS["en"].update(
    {
        "cl.title": "Try it: the loading clinic",
        "cl.intro": (
            "Each case really makes a broken checkpoint on the server and runs the "
            "failing code. You choose the fix; the server runs it right then: errors "
            "are PyTorch's own words (or safetensors'), and a real fix comes with evidence."
        ),
        "cl.pick": "Pick a case:",
        "cl.broken": "The failing code",
        "cl.error": "PyTorch's real error",
        "cl.error_from": "The real error, from {lib}",
        "cl.no_error": "(no error)",
        "cl.fix": "The fix",
        "cl.fix_failed": "The fixed code failed too:",
        "cl.evidence": "Evidence that the fix works",
        "cl.fixed": "Fixed: the weights really arrived.",
        "cl.not_fixed": "No evidence that the fix worked.",
        "cl.unknown_case": "No such case; choose one of: {names}",
        "cl.unknown_fix": "This case has no such fix; choose one of: {names}",
        "cl.exercise": "How would you fix it? Pick one; the server really runs it:",
        "cl.try": "Run this fix",
        "cl.your_fix": "Your fix:",
        "cl.it_raised": "It raised too — PyTorch's own words:",
        "cl.it_raised_from": "It raised too — {lib} says, in its own words:",
        "cl.no_raise_not_fixed": "No error, but it is not fixed.",
        "cl.why": "Why:",
        "cl.checks": "Checks",
        "cl.check_ok": "holds",
        "cl.check_bad": "fails",
        "cl.solved": "solved",
        "cl.explored": "explored",
        "cl.marks": (
            "✓ solved: the first fix you chose was the right one; "
            "explored: you found it after trying another."
        ),
        "cl.selected": "current case",
        "cl.try_another": "Try another one.",
    }
)
