"""Interface text of the LoadingClinic, Chinese and English."""

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
FIXES = {
    "zh": {
        "renamed_layer": {
            "strict_false": (
                "strict=False",
                (
                    "没有报错，但这只是让 PyTorch 不再抱怨：classifier.* 仍在 missing_keys "
                    "里，分类头还是随机初始化，fc.* 被丢掉了。"
                ),
            ),
            "rename_keys": (
                "把 fc.* 改名为 classifier.*",
                "名字对上了，strict 加载确认每个 key 都匹配，分类头拿到了原来 fc 的权重。",
            ),
            "prefix_all": (
                "给每个 key 前面加上 classifier.",
                "改名要精确：现在连 body.* 也变成了 classifier.body.*，一个都对不上。",
            ),
        },
        "dataparallel_prefix": {
            "strict_false": (
                "strict=False",
                (
                    "没有报错——也一个张量都没加载：所有 key 都在 missing 和 unexpected 里，"
                    "模型保持随机初始化。最危险的一种“成功”。"
                ),
            ),
            "replace_module": (
                '用 replace 删掉 "module" 这个词',
                '删掉的是 "module" 而不是 "module."：key 变成了 ".body.weight"，还是对不上。',
            ),
            "consume_prefix": (
                "consume_prefix_in_state_dict_if_present",
                '只去掉开头的 "module."，key 和模型完全一致，strict 加载通过。',
            ),
        },
        "size_mismatch": {
            "shape_filter": (
                "先按形状过滤，再加载",
                "只复制形状相同的张量：backbone 来自 checkpoint，新的 3 类分类头保持初始化。",
            ),
            "strict_false": (
                "strict=False",
                "strict=False 只容忍缺少或多余的 key，不容忍形状不同：照样抛出 size mismatch。",
            ),
            "ten_classes": (
                "建一个 10 类的模型",
                "能加载，但解决的是别的问题：任务只有 3 类，这个模型却输出 10 类。",
            ),
        },
        "cuda_checkpoint": {
            "weights_only_false": (
                "weights_only=False",
                "和安全开关无关：张量被标记在 cuda:0 上，而这台机器没有 CUDA。同样的错误。",
            ),
            "model_to_cuda": ("把模型也搬到 cuda", "这台机器上没有 CUDA，模型也搬不过去。"),
            "map_location": ('map_location="cpu"', "加载时把每个存储映射到 CPU：张量值不变，全部在 cpu 上。"),
        },
        "truncated_file": {
            "last_good": (
                "加载上一个完好的 checkpoint",
                "被截断的文件救不回来；原子写入保证上一个 checkpoint 是完整的。",
            ),
            "weights_only_false": (
                "weights_only=False",
                "文件本身只有一半：zip 的中央目录在文件末尾，已经丢了。换什么加载方式都一样。",
            ),
            "mmap": ("mmap=True", "按需读取也要先找到 zip 的中央目录，而它在丢掉的那一半里。"),
        },
        "resume_order": {
            "foreach_false": (
                "换一种实现：foreach=False",
                (
                    "和实现无关：foreach、逐个循环、fused 三种实现遇到的都是 float32 的动量"
                    "配 float64 的权重，报同样的错。问题出在顺序：load_state_dict 按加载那一"
                    "刻参数的 dtype/设备转换状态，之后再移动模型，状态不会跟着走。"
                ),
            ),
            "fresh_optimizer": (
                "移动之后新建一个优化器",
                (
                    "不报错了，但 Adam 的动量和步数全丢了：step 从 1 重新数起，偏差修正也从"
                    "头开始。等于没续训优化器。"
                ),
            ),
            "build_move_load": (
                "先建模型、移动，再建优化器并加载状态",
                (
                    "顺序对了：load_state_dict 把保存的动量转换成参数此刻的 dtype（在 GPU 上"
                    "就是 cuda 设备），step 从保存的计数继续。"
                ),
            ),
        },
        "unfreeze_groups": {
            "two_groups": (
                "建两个参数组：头部一组，主干一组",
                (
                    "保存时只有一个组（只有头部），现在有两个：PyTorch 按组的个数和每组参数"
                    "的个数来对应状态，对不上就拒绝。"
                ),
            ),
            "same_groups_then_add": (
                "按保存时的组重建优化器，加载，再 add_param_group",
                (
                    "组和保存时一模一样，状态（动量）一一对上；加载之后再把解冻的主干作为新"
                    "组加进来。checkpoint 里记下 phase，续训代码就知道该怎么建组。"
                ),
            ),
            "skip_state": (
                "不加载优化器状态，重新开始",
                "不报错，但头部的动量丢了：续训的优化器从零开始，和中断前的训练不再是同一条轨迹。",
            ),
        },
        "compile_prefix": {
            "compile_too": (
                "把新模型也 compile 一下（model.compile()）",
                (
                    "model.compile() 是原地编译，模型对象和它的 key 都不变，仍然没有 _orig_mod. "
                    "前缀。只有 torch.compile(model) 返回的包装器才带这个前缀。"
                ),
            ),
            "strict_false": (
                "strict=False",
                "没有报错——也一个张量都没加载：所有 key 都在 missing 和 unexpected 里，模型保持随机初始化。",
            ),
            "consume_prefix": (
                "去掉 _orig_mod. 前缀",
                (
                    '只去掉开头的 "_orig_mod."，key 和模型完全一致，strict 加载通过。更好的'
                    "习惯是保存时就存 model._orig_mod.state_dict()（或 compile 之前的那个模"
                    "型）。"
                ),
            ),
        },
        "numpy_weights_only": {
            "allow_reconstruct": (
                "只把报错里那个函数加入白名单",
                (
                    "白名单一次只解决一个名字：放行 _reconstruct 之后，紧接着就是 numpy.ndarray "
                    "被拒绝，后面还有 numpy.dtype……每个读这个文件的人都得重复这一轮。"
                ),
            ),
            "weights_only_false": (
                "weights_only=False",
                (
                    "能加载，但关掉了保护：pickle 可以在加载时调用任意函数。文件本身也没变，"
                    "以后每个读者还得再关一次保护。只对你自己写的文件这样做。"
                ),
            ),
            "plain_types": (
                "保存普通类型：torch.from_numpy、rng.bit_generator.state",
                (
                    "文件里只剩张量、字典、整数和字符串，默认的 weights_only=True 就能加载。"
                    "对别人给的、你信任的旧文件，可以用 torch.serialization.safe_globals([...]) "
                    "精确放行列出的名字——而不是 weights_only=False。"
                ),
            ),
        },
        "safetensors_shared": {
            "save_model": (
                "safetensors.torch.save_model / load_model",
                (
                    "save_model 只存一份共享的张量，load_model 通过模型把绑定恢复：文件里只"
                    "有 embed.weight，加载后 lm_head.weight 仍然就是 embed.weight。另一种办"
                    "法是先 .clone() 共享的张量（会存两份）。"
                ),
            ),
            "contiguous": (
                "先 .contiguous() 再保存",
                "这两个张量本来就是连续的，.contiguous() 什么也不复制：它们还是同一块内存，同样的错误。",
            ),
            "drop_tied_key": (
                "删掉 lm_head.weight 再保存",
                (
                    "保存成功了，可严格加载时 lm_head.weight 成了 missing key。safetensors "
                    "的 load_model 知道这种绑定，普通的 load_state_dict 不知道。"
                ),
            ),
        },
    },
    "en": {
        "renamed_layer": {
            "strict_false": (
                "strict=False",
                (
                    "No error, but only because PyTorch stopped complaining: classifier.* is "
                    "still in missing_keys, the head is still random and fc.* was thrown away."
                ),
            ),
            "rename_keys": (
                "Rename fc.* to classifier.*",
                "The names match now; a strict load confirms every key, and the head holds fc's old weights.",
            ),
            "prefix_all": (
                "Put classifier. in front of every key",
                "Renaming must be exact: body.* became classifier.body.* too, and nothing matches.",
            ),
        },
        "dataparallel_prefix": {
            "strict_false": (
                "strict=False",
                (
                    "No error — and not one tensor loaded: every key is missing and every key "
                    "unexpected, the model keeps its random init. The most dangerous kind of "
                    "success."
                ),
            ),
            "replace_module": (
                'Delete the word "module" with replace',
                'It removed "module", not "module.": keys became ".body.weight" and still do not match.',
            ),
            "consume_prefix": (
                "consume_prefix_in_state_dict_if_present",
                'Only a leading "module." is removed; the keys equal the model\'s and a strict load passes.',
            ),
        },
        "size_mismatch": {
            "shape_filter": (
                "Filter by shape, then load",
                (
                    "Only tensors of the same shape are copied: the backbone comes from the "
                    "checkpoint, the new 3-class head keeps its init."
                ),
            ),
            "strict_false": (
                "strict=False",
                (
                    "strict=False tolerates missing and unexpected keys, not different shapes: "
                    "it raises size mismatch all the same."
                ),
            ),
            "ten_classes": (
                "Build a 10-class model",
                "It loads, but solves another problem: the task has 3 classes and this model outputs 10.",
            ),
        },
        "cuda_checkpoint": {
            "weights_only_false": (
                "weights_only=False",
                (
                    "The safety gate is not the problem: the tensors are tagged cuda:0 and "
                    "this machine has no CUDA. Same error."
                ),
            ),
            "model_to_cuda": (
                "Move the model to cuda too",
                "There is no CUDA on this machine to move the model to.",
            ),
            "map_location": (
                'map_location="cpu"',
                "Every storage is mapped to the CPU as it loads: same values, all on cpu.",
            ),
        },
        "truncated_file": {
            "last_good": (
                "Load the last good checkpoint",
                (
                    "A truncated file cannot be rescued; the atomic writer guarantees the previous "
                    "checkpoint is whole."
                ),
            ),
            "weights_only_false": (
                "weights_only=False",
                (
                    "The file itself is half missing: a zip's central directory is at its end, "
                    "and that is gone. No way of loading helps."
                ),
            ),
            "mmap": (
                "mmap=True",
                "Reading lazily still needs the zip's central directory, which was in the missing half.",
            ),
        },
        "resume_order": {
            "foreach_false": (
                "Another implementation: foreach=False",
                (
                    "The kernel is not the problem: foreach, for-loop and fused alike meet "
                    "a float32 moment for a float64 weight. The order is: load_state_dict converts "
                    "the state to each parameter's dtype and device as they are at that moment, "
                    "and moving the model afterwards leaves the state behind."
                ),
            ),
            "fresh_optimizer": (
                "Build a new optimizer after the move",
                (
                    "No error, but Adam's moments and step count are gone: step counts from "
                    "1 again and bias correction starts over. The optimizer was not resumed "
                    "at all."
                ),
            ),
            "build_move_load": (
                "Build the model, move it, then build the optimizer and load",
                (
                    "The right order: load_state_dict converts the saved moments to the parameters' "
                    "current dtype (on a GPU: the cuda device), and step continues from the "
                    "saved count."
                ),
            ),
        },
        "unfreeze_groups": {
            "two_groups": (
                "Two parameter groups: the head, then the backbone",
                (
                    "The file has one group (the head only), this optimizer two: PyTorch matches "
                    "the state by the number of groups and the size of each, and refuses when "
                    "they differ."
                ),
            ),
            "same_groups_then_add": (
                "Rebuild the groups as saved, load, then add_param_group",
                (
                    "The groups are exactly as at save time, so the state (momentum) lines "
                    "up; the unfrozen backbone is added as a new group after loading. Keep "
                    "the phase in the checkpoint so the resume code knows which groups to build."
                ),
            ),
            "skip_state": (
                "Don't load the optimizer state, start afresh",
                (
                    "No error, but the head's momentum is lost: the resumed optimizer starts "
                    "from zero and no longer follows the interrupted run."
                ),
            ),
        },
        "compile_prefix": {
            "compile_too": (
                "Compile the new model too (model.compile())",
                (
                    "model.compile() compiles in place: the model object and its keys stay "
                    "as they are, with no _orig_mod. prefix. Only the wrapper that torch.compile(model) "
                    "returns adds it."
                ),
            ),
            "strict_false": (
                "strict=False",
                (
                    "No error — and not one tensor loaded: every key is missing and every key "
                    "unexpected, the model keeps its random init."
                ),
            ),
            "consume_prefix": (
                "Strip the _orig_mod. prefix",
                (
                    'Only a leading "_orig_mod." is removed; the keys equal the model\'s and '
                    "a strict load passes. Better still, save model._orig_mod.state_dict() "
                    "(or the model you passed to torch.compile) in the first place."
                ),
            ),
        },
        "numpy_weights_only": {
            "allow_reconstruct": (
                "Allowlist just the function the error named",
                (
                    "An allowlist solves one name at a time: with _reconstruct allowed, numpy.ndarray "
                    "is refused next, then numpy.dtype… and every reader of the file goes through "
                    "the same loop."
                ),
            ),
            "weights_only_false": (
                "weights_only=False",
                (
                    "It loads, with the protection off: a pickle can call any function while "
                    "loading. The file is unchanged, so every later reader must turn the protection "
                    "off again. Do this only for files you wrote yourself."
                ),
            ),
            "plain_types": (
                "Save plain types: torch.from_numpy, rng.bit_generator.state",
                (
                    "The file holds only tensors, dicts, ints and strings, so the default weights_only=True "
                    "loads it. For an existing file from an author you trust, "
                    "torch.serialization.safe_globals([...]) "
                    "allows exactly the listed names — not weights_only=False."
                ),
            ),
        },
        "safetensors_shared": {
            "save_model": (
                "safetensors.torch.save_model / load_model",
                (
                    "save_model stores a shared tensor once and load_model ties it again through "
                    "the model: the file holds embed.weight only, and after loading lm_head.weight "
                    "is embed.weight. Cloning the shared tensor also works (it is stored twice)."
                ),
            ),
            "contiguous": (
                "Call .contiguous() before saving",
                (
                    "Both tensors are contiguous already, so .contiguous() copies nothing: "
                    "they still share one block of memory, and the error is the same."
                ),
            ),
            "drop_tied_key": (
                "Delete lm_head.weight, then save",
                (
                    "The save works, but a strict load reports lm_head.weight missing. safetensors' "
                    "load_model knows about the tie; a plain load_state_dict does not."
                ),
            ),
        },
    },
}

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
