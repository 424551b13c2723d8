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

# Each candidate fix: a one-line label, and why it works or fails (shown after it ran).
FIXES = {
    "zh": {
        "renamed_layer": {
            "strict_false": ("strict=False", "没有报错，但这只是让 PyTorch 不再抱怨：classifier.* 仍在 missing_keys 里，分类头还是随机初始化，fc.* 被丢掉了。"),
            "rename_keys": ("把 fc.* 改名为 classifier.*", "名字对上了，strict 加载确认每个 key 都匹配，分类头拿到了原来 fc 的权重。"),
            "prefix_all": ("给每个 key 前面加上 classifier.", "改名要精确：现在连 body.* 也变成了 classifier.body.*，一个都对不上。"),
        },
        "dataparallel_prefix": {
            "strict_false": ("strict=False", "没有报错——也一个张量都没加载：所有 key 都在 missing 和 unexpected 里，模型保持随机初始化。最危险的一种“成功”。"),
            "replace_module": ("用 replace 删掉 \"module\" 这个词", "删掉的是 \"module\" 而不是 \"module.\"：key 变成了 \".body.weight\"，还是对不上。"),
            "consume_prefix": ("consume_prefix_in_state_dict_if_present", "只去掉开头的 \"module.\"，key 和模型完全一致，strict 加载通过。"),
        },
        "size_mismatch": {
            "shape_filter": ("先按形状过滤，再加载", "只复制形状相同的张量：backbone 来自 checkpoint，新的 3 类分类头保持初始化。"),
            "strict_false": ("strict=False", "strict=False 只容忍缺少或多余的 key，不容忍形状不同：照样抛出 size mismatch。"),
            "ten_classes": ("建一个 10 类的模型", "能加载，但解决的是别的问题：任务只有 3 类，这个模型却输出 10 类。"),
        },
        "cuda_checkpoint": {
            "weights_only_false": ("weights_only=False", "和安全开关无关：张量被标记在 cuda:0 上，而这台机器没有 CUDA。同样的错误。"),
            "model_to_cuda": ("把模型也搬到 cuda", "这台机器上没有 CUDA，模型也搬不过去。"),
            "map_location": ("map_location=\"cpu\"", "加载时把每个存储映射到 CPU：张量值不变，全部在 cpu 上。"),
        },
        "truncated_file": {
            "last_good": ("加载上一个完好的 checkpoint", "被截断的文件救不回来；原子写入保证上一个 checkpoint 是完整的。"),
            "weights_only_false": ("weights_only=False", "文件本身只有一半：zip 的中央目录在文件末尾，已经丢了。换什么加载方式都一样。"),
            "mmap": ("mmap=True", "按需读取也要先找到 zip 的中央目录，而它在丢掉的那一半里。"),
        },
    },
    "en": {
        "renamed_layer": {
            "strict_false": ("strict=False", "No error, but only because PyTorch stopped complaining: classifier.* is still in missing_keys, the head is still random and fc.* was thrown away."),
            "rename_keys": ("Rename fc.* to classifier.*", "The names match now; a strict load confirms every key, and the head holds fc's old weights."),
            "prefix_all": ("Put classifier. in front of every key", "Renaming must be exact: body.* became classifier.body.* too, and nothing matches."),
        },
        "dataparallel_prefix": {
            "strict_false": ("strict=False", "No error — and not one tensor loaded: every key is missing and every key unexpected, the model keeps its random init. The most dangerous kind of success."),
            "replace_module": ("Delete the word \"module\" with replace", "It removed \"module\", not \"module.\": keys became \".body.weight\" and still do not match."),
            "consume_prefix": ("consume_prefix_in_state_dict_if_present", "Only a leading \"module.\" is removed; the keys equal the model's and a strict load passes."),
        },
        "size_mismatch": {
            "shape_filter": ("Filter by shape, then load", "Only tensors of the same shape are copied: the backbone comes from the checkpoint, the new 3-class head keeps its init."),
            "strict_false": ("strict=False", "strict=False tolerates missing and unexpected keys, not different shapes: it raises size mismatch all the same."),
            "ten_classes": ("Build a 10-class model", "It loads, but solves another problem: the task has 3 classes and this model outputs 10."),
        },
        "cuda_checkpoint": {
            "weights_only_false": ("weights_only=False", "The safety gate is not the problem: the tensors are tagged cuda:0 and this machine has no CUDA. Same error."),
            "model_to_cuda": ("Move the model to cuda too", "There is no CUDA on this machine to move the model to."),
            "map_location": ("map_location=\"cpu\"", "Every storage is mapped to the CPU as it loads: same values, all on cpu."),
        },
        "truncated_file": {
            "last_good": ("Load the last good checkpoint", "A truncated file cannot be rescued; the atomic writer guarantees the previous checkpoint is whole."),
            "weights_only_false": ("weights_only=False", "The file itself is half missing: a zip's central directory is at its end, and that is gone. No way of loading helps."),
            "mmap": ("mmap=True", "Reading lazily still needs the zip's central directory, which was in the missing half."),
        },
    },
}

i18n.STRINGS["zh"].update({
    "cl.title": "交互演示：加载错误门诊",
    "cl.intro": "每个病例都会在服务器上真的造出一个出问题的 checkpoint，运行出错的代码。你来选修复方案，服务器当场运行它：错误信息是 PyTorch 给出的原文，修好了就给出证据。",
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
    "cl.unknown_fix": "这个病例没有这个修复方案，可选：{names}",
    "cl.exercise": "你会怎么修？选一个，服务器会真的运行它：",
    "cl.try": "运行这个修复",
    "cl.your_fix": "你选的修复：",
    "cl.it_raised": "它也报错了——PyTorch 的原文：",
    "cl.no_raise_not_fixed": "没有报错，但问题并没有解决。",
    "cl.why": "为什么：",
    "cl.checks": "检查",
    "cl.check_ok": "通过",
    "cl.check_bad": "未通过",
    "cl.solved": "已解决",
    "cl.selected": "当前病例",
    "cl.try_another": "换一个试试。",
})
i18n.STRINGS["en"].update({
    "cl.title": "Try it: the loading clinic",
    "cl.intro": "Each case really makes a broken checkpoint on the server and runs the failing code. You choose the fix; the server runs it right then: errors are PyTorch's own words, and a real fix comes with evidence.",
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
    "cl.unknown_fix": "This case has no such fix; choose one of: {names}",
    "cl.exercise": "How would you fix it? Pick one; the server really runs it:",
    "cl.try": "Run this fix",
    "cl.your_fix": "Your fix:",
    "cl.it_raised": "It raised too — PyTorch's own words:",
    "cl.no_raise_not_fixed": "No error, but it is not fixed.",
    "cl.why": "Why:",
    "cl.checks": "Checks",
    "cl.check_ok": "holds",
    "cl.check_bad": "fails",
    "cl.solved": "solved",
    "cl.selected": "current case",
    "cl.try_another": "Try another one.",
})
