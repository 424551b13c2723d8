"""Interface text of the LoadingClinic, Chinese and English."""
from app import i18n

CASES = {
    "zh": {
        "renamed_layer": "层改了名字：missing / unexpected keys",
        "dataparallel_prefix": "来自 nn.DataParallel：每个 key 都带 module. 前缀",
        "size_mismatch": "类别数不同：size mismatch",
        "cuda_checkpoint": "GPU 上保存的 checkpoint，在只有 CPU 的机器上加载",
        "truncated_file": "文件被截断：保存到一半进程就死了",
    },
    "en": {
        "renamed_layer": "A layer was renamed: missing / unexpected keys",
        "dataparallel_prefix": "Saved from nn.DataParallel: every key starts with module.",
        "size_mismatch": "A different number of classes: size mismatch",
        "cuda_checkpoint": "A checkpoint saved on a GPU, loaded on a CPU-only machine",
        "truncated_file": "A truncated file: the process died while saving",
    },
}

i18n.STRINGS["zh"].update({
    "cl.title": "交互演示：加载错误门诊",
    "cl.intro": "每个按钮都会在服务器上真的造出一个出问题的 checkpoint，运行出错的代码，再运行修复后的代码。错误信息是 PyTorch 当场给出的原文。",
    "cl.pick": "选一个病例：",
    "cl.broken": "出错的代码",
    "cl.error": "PyTorch 的真实报错",
    "cl.no_error": "（没有报错）",
    "cl.fix": "修复",
    "cl.fix_failed": "修复后的代码也报错了：",
    "cl.evidence": "证据：修复真的生效了",
    "cl.fixed": "已修复：权重确实加载进来了。",
    "cl.not_fixed": "没有得到修复成功的证据。",
    "cl.unknown_case": "没有这个病例，可选：{names}",
})
i18n.STRINGS["en"].update({
    "cl.title": "Try it: the loading clinic",
    "cl.intro": "Each button really makes a broken checkpoint on the server, runs the failing code, then the fixed code. The error text is PyTorch's own, produced right then.",
    "cl.pick": "Pick a case:",
    "cl.broken": "The failing code",
    "cl.error": "PyTorch's real error",
    "cl.no_error": "(no error)",
    "cl.fix": "The fix",
    "cl.fix_failed": "The fixed code failed too:",
    "cl.evidence": "Evidence that the fix works",
    "cl.fixed": "Fixed: the weights really arrived.",
    "cl.not_fixed": "No evidence that the fix worked.",
    "cl.unknown_case": "No such case; choose one of: {names}",
})
