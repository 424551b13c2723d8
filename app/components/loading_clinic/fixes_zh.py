"""The LoadingClinic's fixes for each case, in Chinese: (label, why it works or does not)."""

FIXES_ZH: dict[str, dict[str, tuple[str, str]]] = {
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
}
