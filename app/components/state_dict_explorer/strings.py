"""Interface text of the StateDictExplorer, Chinese and English."""

from app import i18n

MODELS = {
    "zh": {
        "linear": "本章的模型：一层 nn.Linear(10, 2)",
        "cnn_bn": "带 BatchNorm 的小 CNN：参数 + 运行统计量 buffer",
        "mlp_dropout": "带 Dropout 的 MLP：ReLU 和 Dropout 不占 state_dict",
    },
    "en": {
        "linear": "The lesson's model: one nn.Linear(10, 2)",
        "cnn_bn": "A small CNN with BatchNorm: parameters + running-statistics buffers",
        "mlp_dropout": "An MLP with Dropout: ReLU and Dropout add nothing to the state_dict",
    },
}


def unknown_model(lang: str, names) -> str:
    return i18n.t(lang, "sd.unknown_model").format(names=", ".join(names))


# This module's interface text, registered with its component (app/components/__init__.py).
STRINGS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
STRINGS["zh"].update(
    {
        "sd.title": "交互演示：看看真实的 state_dict",
        "sd.intro": (
            "选一个模型，服务器会真的构建它并列出 model.state_dict() 里的每一项：key、"
            "形状、dtype、元素个数、字节数，以及它是参数还是 buffer。"
        ),
        "sd.model": "模型",
        "sd.show": "显示",
        "sd.loading": "正在运行 PyTorch……",
        "sd.key": "key",
        "sd.shape": "形状",
        "sd.dtype": "dtype",
        "sd.numel": "元素个数",
        "sd.bytes": "字节",
        "sd.kind": "类型",
        "sd.module": "所属模块",
        "sd.parameter": "参数",
        "sd.buffer": "buffer",
        "sd.totals": "合计：{entries} 项，参数 {params} 个数，buffer {buffers} 个数，共 {bytes} 字节",
        "sd.stateless": "没有在 state_dict 里留下任何条目的模块（没有可学习参数，也没有 buffer）：",
        "sd.stateless_none": "这个模型的每个叶子模块都有条目。",
        "sd.buffer_note": (
            "buffer 不是可训练参数，却也要保存：BatchNorm 的 running_mean / running_var "
            "/ num_batches_tracked 决定了 eval 模式下的输出。"
        ),
        "sd.code": "模型代码",
        "sd.ref_title": "state_dict() 返回的是引用，不是拷贝",
        "sd.ref_intro": (
            "先用 best = model.state_dict() “保存最好的模型”，再用 deepcopy 另存一份"
            "，然后继续训练 3 步。看看 best 里的数值发生了什么。"
        ),
        "sd.ref_run": "运行这个实验",
        "sd.ref_row_before": "保存时的 {key}（前几个数）",
        "sd.ref_row_alias": "训练后的 best（没有拷贝）",
        "sd.ref_row_copy": "训练后的 best_copy（deepcopy）",
        "sd.ref_row_live": "训练后模型里的值",
        "sd.ref_changed": "变了",
        "sd.ref_same": "没变",
        "sd.ref_verdict_bad": (
            "best 跟着训练一起变了：它与模型共享同一块内存（data_ptr 相同），所以“保存的最好模型”已经丢了。"
        ),
        "sd.ref_verdict_ok": (
            "deepcopy 得到的 best_copy 保持不变：要在内存里留快照，就用 copy.deepcopy(model.state_dict())。"
        ),
        "sd.ref_shares": "best 与模型共享内存：",
        "sd.yes": "是",
        "sd.no": "否",
        "sd.unknown_model": "没有这个模型，可选：{names}",
    }
)
STRINGS["en"].update(
    {
        "sd.title": "Try it: look at a real state_dict",
        "sd.intro": (
            "Pick a model: the server really builds it and lists every entry of model.state_dict(): "
            "key, shape, dtype, number of elements, bytes, and whether it is a parameter "
            "or a buffer."
        ),
        "sd.model": "Model",
        "sd.show": "Show",
        "sd.loading": "Running PyTorch…",
        "sd.key": "key",
        "sd.shape": "shape",
        "sd.dtype": "dtype",
        "sd.numel": "elements",
        "sd.bytes": "bytes",
        "sd.kind": "kind",
        "sd.module": "module",
        "sd.parameter": "parameter",
        "sd.buffer": "buffer",
        "sd.totals": (
            "Totals: {entries} entries, {params} parameter values, {buffers} buffer values, {bytes} bytes"
        ),
        "sd.stateless": (
            "Modules that leave no entry in the state_dict (no learnable parameters and no buffers):"
        ),
        "sd.stateless_none": "Every leaf module of this model has entries.",
        "sd.buffer_note": (
            "Buffers are not trained, yet they are saved: BatchNorm's running_mean "
            "/ running_var / num_batches_tracked decide its output in eval mode."
        ),
        "sd.code": "The model's code",
        "sd.ref_title": "state_dict() returns references, not copies",
        "sd.ref_intro": (
            'First "save the best model" with best = model.state_dict(), keep a deepcopy '
            "as well, then train 3 more steps. Watch what happens to the values in "
            "best."
        ),
        "sd.ref_run": "Run the experiment",
        "sd.ref_row_before": "{key} when saved (first values)",
        "sd.ref_row_alias": "best after training (no copy)",
        "sd.ref_row_copy": "best_copy after training (deepcopy)",
        "sd.ref_row_live": "the model's values after training",
        "sd.ref_changed": "changed",
        "sd.ref_same": "unchanged",
        "sd.ref_verdict_bad": (
            "best changed along with training: it shares memory with the model (same "
            'data_ptr), so the "saved best model" is gone.'
        ),
        "sd.ref_verdict_ok": (
            "best_copy, made with deepcopy, kept its values: to keep a snapshot in "
            "memory, use copy.deepcopy(model.state_dict())."
        ),
        "sd.ref_shares": "best shares memory with the model:",
        "sd.yes": "yes",
        "sd.no": "no",
        "sd.unknown_model": "No such model; choose one of: {names}",
    }
)
