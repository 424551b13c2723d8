"""Interface text of the TransferLearningVisualizer, Chinese and English."""

SOURCES = {
    "zh": {
        "resnet_mini": "ResNet-mini（残差 CNN，头部 fc）",
        "convnet_mini": "ConvNet-mini（普通卷积，头 classifier）",
    },
    "en": {
        "resnet_mini": "ResNet-mini (residual CNN, head fc)",
        "convnet_mini": "ConvNet-mini (plain CNN, head classifier)",
    },
}
VARIANTS = {
    "zh": {
        "same_arch": ("结构相同，只换类别数", "只有分类头的输出维度不同 → 头部 size mismatch"),
        "renamed_head": ("分类头改了名字", "fc 变成 head → missing / unexpected keys"),
        "dataparallel_prefix": ("源文件来自 DataParallel", "每个 key 都带 module. 前缀 → 一个也对不上"),
        "wider_block": ("最后一个 block 更宽", "backbone 内部也出现 size mismatch"),
    },
    "en": {
        "same_arch": (
            "Same architecture, new class count",
            "only the head's output size differs → size mismatch on the head",
        ),
        "renamed_head": ("Renamed head", "fc becomes head → missing / unexpected keys"),
        "dataparallel_prefix": ("Saved from DataParallel", "every key starts with module. → nothing matches"),
        "wider_block": ("Wider last block", "size mismatches inside the backbone too"),
    },
}
STRATEGIES = {
    "zh": {
        "shape_filter": "形状过滤（本章的写法）",
        "strict": "strict=True",
        "non_strict": "strict=False",
        "strip_prefix": "去掉 module. 前缀 + 形状过滤",
    },
    "en": {
        "shape_filter": "Shape filter (the lesson's way)",
        "strict": "strict=True",
        "non_strict": "strict=False",
        "strip_prefix": "Strip module. + shape filter",
    },
}
STATUS = {
    "zh": {
        "transferred": "已迁移",
        "filtered": "被过滤",
        "not_loaded": "未加载",
        "new": "新增",
        "unused": "未使用",
        "prefix": "只差 module. 前缀",
        "prefix_shape": "差 module. 前缀，形状也不同",
    },
    "en": {
        "transferred": "transferred",
        "filtered": "filtered",
        "not_loaded": "not loaded",
        "new": "new",
        "unused": "unused",
        "prefix": "differs only by module.",
        "prefix_shape": "module. prefix and a different shape",
    },
}
STATUS_HELP = {
    "zh": {
        "transferred": "key 和形状都相同；加载后与源张量逐元素相等",
        "filtered": "key 相同、形状不同：没有复制，仍是随机初始化",
        "not_loaded": "key 和形状相同，但没有被复制",
        "new": "只在目标模型里：保持随机初始化",
        "unused": "只在源 checkpoint 里：被忽略",
        "prefix": (
            "去掉 module. 前缀后名字和形状都对得上：对 PyTorch 来说它们是两个不相干"
            "的 key（源里的 unused，模型里的 new），去掉前缀就能迁移"
        ),
        "prefix_shape": "去掉 module. 前缀后名字对得上，但形状不同：去掉前缀后也会被形状过滤掉",
    },
    "en": {
        "transferred": "same key and shape; after loading it equals the source tensor",
        "filtered": "same key, different shape: not copied, still its random initialisation",
        "not_loaded": "same key and shape, but not copied",
        "new": "only in the target model: keeps its random initialisation",
        "unused": "only in the source checkpoint: ignored",
        "prefix": (
            "name and shape match once module. is removed: to PyTorch they are two "
            "unrelated keys (unused in the checkpoint, new in the model); stripping "
            "the prefix transfers them"
        ),
        "prefix_shape": (
            "the name matches once module. is removed, but the shape differs: the shape "
            "filter drops it even then"
        ),
    },
}
# How to fix what a group shows (none for what needs no fix).
STATUS_FIX = {
    "zh": {
        "filtered": (
            "新的分类头本来就该这样：它从随机初始化开始训练。出现在 backbone 里，说"
            "明两边结构不同，这些层只能重新训练。"
        ),
        "new": "如果源 checkpoint 里有同样形状、只是名字不同的张量（见“未使用”），加载前先把 key 改名。",
        "unused": "如果目标模型里有同样形状、只是名字不同的张量（见“新增”），加载前先把 key 改名。",
        "not_loaded": "加载在复制到它之前就抛出了异常；换成形状过滤再加载。",
        "prefix": "去掉 module. 前缀（consume_prefix_in_state_dict_if_present）再加载。",
        "prefix_shape": "去掉前缀后它仍会被形状过滤掉：新的分类头从随机初始化开始训练。",
    },
    "en": {
        "filtered": (
            "Expected for a new head: it trains from its random initialisation. Inside "
            "the backbone it means the architectures differ, and those layers must "
            "be trained again."
        ),
        "new": (
            "If the checkpoint holds a tensor of the same shape under another name "
            "(see “unused”), rename the keys before loading."
        ),
        "unused": (
            "If the model has a tensor of the same shape under another name (see “new”), "
            "rename the keys before loading."
        ),
        "not_loaded": "The load raised before copying it; load with the shape filter instead.",
        "prefix": "Strip module. (consume_prefix_in_state_dict_if_present), then load.",
        "prefix_shape": (
            "Even without the prefix the shape filter drops it: the new head trains "
            "from its random initialisation."
        ),
    },
}

# This module's interface text, registered with its component (app/components/__init__.py).
STRINGS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
STRINGS["zh"].update(
    {
        "tl.title": "交互演示：把预训练权重注入新模型",
        "tl.intro": (
            "左边是服务器上真正预训练过的源模型（24 类图形识别），右边是类别数不同的"
            "新模型。每一行是目标模型 state_dict 里的一个张量（以及源模型独有的张量"
            "）。改变设置，PyTorch 会真的执行一次加载。"
        ),
        "tl.source": "源模型",
        "tl.variant": "目标模型的变化",
        "tl.classes": "目标类别数",
        "tl.strategy": "加载方式",
        "tl.show": "加载",
        "tl.pretraining": "正在预训练源模型……（第一次启动时在后台进行，只需一次）",
        "tl.pretrain_epoch": "epoch {epoch} / {total}",
        "tl.pretrain_failed": "预训练失败：",
        "tl.raised": "PyTorch 抛出了异常——这正是要学的地方：",
        "tl.loaded_ok": "加载成功，没有异常。",
        "tl.loaded_nothing": "什么也没加载：没有异常，但一个张量也没有迁移过来。",
        "tl.loaded_nothing_why": (
            "目标模型的 {total} 个张量中没有一个来自检查点：模型仍然完全是随机初始化。"
            "没有抛出异常不代表加载了任何东西——要数一数真正迁移了多少。"
        ),
        "tl.partial_note": (
            "注意：即使抛出异常，load_state_dict 也已经把能复制的张量复制进去了。下"
            "面的状态是加载之后模型里真实的内容。"
        ),
        "tl.missing": "missing_keys",
        "tl.unexpected": "unexpected_keys",
        "tl.totals": "合计",
        "tl.tensors": "张量",
        "tl.params": "参数",
        "tl.source_col": "源模型（预训练）",
        "tl.target_col": "目标模型",
        "tl.status": "状态",
        "tl.code": "实际执行的代码",
        "tl.pick_tensor": "点击任意一行，查看这个张量加载前后的数值。",
        "tl.before": "加载前（随机初始化）",
        "tl.after": "加载后",
        "tl.source_vals": "源张量",
        "tl.first": "前几个数",
        "tl.mean_std": "均值 / 标准差",
        "tl.equals_source": "加载后 == 源张量",
        "tl.equals_before": "加载后 == 加载前",
        "tl.histogram": "数值分布",
        "tl.finetune": "微调并对比：迁移 vs 从零训练",
        "tl.shots": "每类样本数",
        "tl.epochs": "Epoch 数",
        "tl.freeze": "冻结迁移来的 backbone（只训练分类头；requires_grad=False，BatchNorm 用 eval 模式）",
        "tl.seed": "随机种子",
        "tl.start_ft": "开始微调",
        "tl.ft_running": "微调中……（种子 {done} / {total}）",
        "tl.acc_chart": "测试准确率",
        "tl.loss_chart": "训练 loss",
        "tl.transfer": "迁移学习",
        "tl.scratch": "从零训练",
        "tl.seed_col": "种子",
        "tl.margin": "差距",
        "tl.mean_margin": "平均差距：迁移比从零训练高 {pts} 个百分点。",
        "tl.yes": "是",
        "tl.no": "否",
        "tl.only_in_source": "只在源模型里",
        "tl.group": "{module} · {n} 个张量：{fate}",
        "tl.group_one": "{module} · 1 个张量：{fate}",
        "tl.rows_title": "每个张量的去向（有问题的在最上面，已迁移的按模块折叠）",
        "tl.in_source": "源 checkpoint 里：",
        "tl.in_target": "目标模型里：",
        "tl.predict_q": "先预测一下：用「{strategy}」加载，会不会抛出异常？",
        "tl.predict_yes": "能加载，不报错",
        "tl.predict_no": "会抛出异常",
        "tl.predict_skip": "直接看结果",
        "tl.predict_right": "猜对了。",
        "tl.predict_wrong": "没猜对。",
        "tl.fact_ok": "PyTorch 没有抛出异常，迁移了目标模型 {total} 个张量中的 {moved} 个。",
        "tl.fact_raised": (
            "PyTorch 抛出了 {error}——但在那之前已经把 {total} 个张量中的 {moved} 个复制进去了。"
        ),
        "tl.corr_title": "对应关系：module.x → x",
        "tl.corr_text": (
            "源 checkpoint 的 {total} 个 key 中，有 {n} 个去掉 module. 前缀后正好是"
            "目标模型里的 key。PyTorch 按名字逐字匹配，所以它们一个也没对上。"
        ),
        "tl.corr_fixed": "已去掉 module. 前缀：下面的每一行都是 module.x → x。",
        "tl.apply_fix": "应用修复：去掉 module. 前缀",
        "tl.compare_title": "从「{before}」换成「{after}」之后",
        "tl.compare_changed": "{n} 个张量的状态变了。",
        "tl.compare_changed_one": "{n} 个张量的状态变了。",
        "tl.before_col": "之前",
        "tl.after_col": "之后",
        "tl.close": "收起",
        "tl.which": "张量",
        "tl.how_to_fix": "怎么办：",
        "tl.frozen_title": "“冻结”到底冻结了什么（本次运行实测，第一个种子）",
        "tl.frozen_params": "backbone 的权重（requires_grad=False）：训练前后最大变化 |Δ| = {d:.3g}。",
        "tl.frozen_bn": (
            "backbone 里 {n} 个 BatchNorm 层的 running_mean / running_var：最大变化"
            " {d:.3g}——因为这里还把它们切到了 eval 模式。"
        ),
        "tl.frozen_train_mode": (
            "如果只设 requires_grad=False、让模型留在 train 模式：只在这些训练图片上"
            "前向 {b} 个 batch，不求梯度、不走优化器，running 统计量就变了最多 {d:.3g}（"
            "权重变化 {w:.3g}）。“冻结”的 backbone 其实还在变。"
        ),
        "tl.limit_active": "已达上限：同时最多 {n} 个任务排队或训练。等一个结束再开始。",
        "tl.limit_queue": "队列已满：{n} 个任务在等待，请一分钟后再试。",
    }
)
STRINGS["en"].update(
    {
        "tl.title": "Try it: inject pretrained weights into a new model",
        "tl.intro": (
            "On the left, a source model really pretrained on the server (24 glyph "
            "classes); on the right, a new model with a different number of classes. "
            "Each row is a tensor of the target's state_dict (or one only the source "
            "has). Change the settings and PyTorch really performs the load."
        ),
        "tl.source": "Source model",
        "tl.variant": "What differs in the target",
        "tl.classes": "Target classes",
        "tl.strategy": "Loading strategy",
        "tl.show": "Load",
        "tl.pretraining": "Pretraining the source models… (in the background on first start, once)",
        "tl.pretrain_epoch": "epoch {epoch} / {total}",
        "tl.pretrain_failed": "Pretraining failed:",
        "tl.raised": "PyTorch raised an exception — this is the lesson:",
        "tl.loaded_ok": "Loaded without an exception.",
        "tl.loaded_nothing": "Loaded nothing: no exception, yet not one tensor was transferred.",
        "tl.loaded_nothing_why": (
            "None of the model's {total} tensors came from the checkpoint: it is still entirely its "
            "random initialisation. A load that raises nothing has not necessarily loaded anything — "
            "count what was transferred."
        ),
        "tl.partial_note": (
            "Note: even when it raises, load_state_dict has already copied every tensor "
            "it could. The statuses below are what the model really holds after the "
            "attempt."
        ),
        "tl.missing": "missing_keys",
        "tl.unexpected": "unexpected_keys",
        "tl.totals": "Totals",
        "tl.tensors": "tensors",
        "tl.params": "parameters",
        "tl.source_col": "Source (pretrained)",
        "tl.target_col": "Target",
        "tl.status": "Status",
        "tl.code": "The code that ran",
        "tl.pick_tensor": "Select a row to see that tensor's values before and after loading.",
        "tl.before": "before loading (random init)",
        "tl.after": "after loading",
        "tl.source_vals": "source",
        "tl.first": "first entries",
        "tl.mean_std": "mean / std",
        "tl.equals_source": "after == source",
        "tl.equals_before": "after == before",
        "tl.histogram": "Distribution of values",
        "tl.finetune": "Fine-tune and compare: transferred vs from scratch",
        "tl.shots": "Examples per class",
        "tl.epochs": "Epochs",
        "tl.freeze": (
            "Freeze the transferred backbone (train the head only: requires_grad=False, "
            "BatchNorm in eval mode)"
        ),
        "tl.seed": "Seed",
        "tl.start_ft": "Fine-tune",
        "tl.ft_running": "Fine-tuning… (seed {done} of {total})",
        "tl.acc_chart": "Test accuracy",
        "tl.loss_chart": "Training loss",
        "tl.transfer": "transferred",
        "tl.scratch": "from scratch",
        "tl.seed_col": "Seed",
        "tl.margin": "Margin",
        "tl.mean_margin": (
            "On average the transferred model is {pts} points more accurate than the "
            "one trained from scratch."
        ),
        "tl.yes": "yes",
        "tl.no": "no",
        "tl.only_in_source": "only in the source",
        "tl.group": "{module} · {n} tensors: {fate}",
        "tl.group_one": "{module} · 1 tensor: {fate}",
        "tl.rows_title": "Where each tensor went (problems on top, transferred tensors folded by module)",
        "tl.in_source": "in the checkpoint:",
        "tl.in_target": "in the model:",
        "tl.predict_q": "Predict first: will “{strategy}” load this without an exception?",
        "tl.predict_yes": "Yes, it loads",
        "tl.predict_no": "No, it raises",
        "tl.predict_skip": "Just show me",
        "tl.predict_right": "Right.",
        "tl.predict_wrong": "Not quite.",
        "tl.fact_ok": "PyTorch raised nothing and transferred {moved} of the target's {total} tensors.",
        "tl.fact_raised": "PyTorch raised {error} — after copying {moved} of the {total} tensors it could.",
        "tl.corr_title": "Correspondence: module.x → x",
        "tl.corr_text": (
            "{n} of the checkpoint's {total} keys are exactly a key of the model once "
            "module. is removed. PyTorch matches names letter by letter, so not one "
            "of them matched."
        ),
        "tl.corr_fixed": "module. removed: every row below is module.x → x.",
        "tl.apply_fix": "Apply the fix: strip module.",
        "tl.compare_title": "After switching from “{before}” to “{after}”",
        "tl.compare_changed": "{n} tensors changed status.",
        "tl.compare_changed_one": "{n} tensor changed status.",
        "tl.before_col": "before",
        "tl.after_col": "after",
        "tl.close": "Close",
        "tl.which": "tensor",
        "tl.how_to_fix": "What to do:",
        "tl.frozen_title": "What “frozen” froze (measured in this run, first seed)",
        "tl.frozen_params": (
            "Backbone weights (requires_grad=False): largest change over training |Δ| = {d:.3g}."
        ),
        "tl.frozen_bn": (
            "running_mean / running_var of the backbone's {n} BatchNorm layers: largest "
            "change {d:.3g} — because they were also switched to eval mode here."
        ),
        "tl.frozen_train_mode": (
            "With requires_grad=False alone, the model left in train mode: just {b} "
            "forward batches over these training images — no gradient, no optimizer "
            "— moved the running statistics by up to {d:.3g} (weights: {w:.3g}). A "
            "“frozen” backbone that still changes."
        ),
        "tl.limit_active": (
            "Limit reached: at most {n} runs may wait or train at once. Start again when one ends."
        ),
        "tl.limit_queue": "The queue is full: {n} runs are waiting; try again in a minute.",
    }
)
