"""Interface text of the SaveLoadLab, Chinese and English."""

REFACTORS = {
    "zh": {
        "none": ("代码不变", "代码和保存时一模一样。"),
        "rename_class": ("类改名：LabNet → LabNetV2", "类被改名为 LabNetV2（仍在 labnet.py 里）。"),
        "move_module": ("挪到包里：models/net.py", "类被挪进包 models/net.py，labnet.py 被删掉。"),
    },
    "en": {
        "none": ("No change", "The code is exactly as it was at save time."),
        "rename_class": (
            "Rename the class: LabNet → LabNetV2",
            "The class was renamed to LabNetV2 (still in labnet.py).",
        ),
        "move_module": (
            "Move it into a package: models/net.py",
            "The class moved to the package models/net.py; labnet.py was deleted.",
        ),
    },
}

# Keyed by the attempt labels of app.ml.labs.saveload: (title, what it shows).
ATTEMPTS = {
    "zh": {
        "state_dict": (
            "state_dict + 当前代码建模型",
            "文件里只有张量；模型由现在的代码搭建，类叫什么、放在哪都无所谓。",
        ),
        "whole model, default torch.load": (
            "整个模型，默认的 torch.load",
            "默认 weights_only=True 只接受张量和普通容器，被 pickle 的 nn.Module 会被拒绝。",
        ),
        "whole model, weights_only=False": (
            "整个模型，weights_only=False",
            (
                "反序列化会导入保存时记录的模块和类（labnet.LabNet）；名字不在了就失败，"
                "而且对不可信文件会执行任意代码。"
            ),
        ),
        "whole model, allowlist (safe_globals)": (
            "整个模型，白名单（safe_globals）",
            "白名单必须正好写出文件记录的全局名字；改名或挪走的类是另一个名字。",
        ),
    },
    "en": {
        "state_dict": (
            "state_dict + the current code builds the model",
            (
                "Only tensors are stored; the current code builds the model, so the class's "
                "name and place do not matter."
            ),
        ),
        "whole model, default torch.load": (
            "Whole model, default torch.load",
            (
                "The default weights_only=True accepts tensors and plain containers only, "
                "so a pickled nn.Module is refused."
            ),
        ),
        "whole model, weights_only=False": (
            "Whole model, weights_only=False",
            (
                "Unpickling imports the module and class recorded at save time (labnet.LabNet): "
                "it fails once that name is gone, and for an untrusted file it runs arbitrary "
                "code."
            ),
        ),
        "whole model, allowlist (safe_globals)": (
            "Whole model, allowlist (safe_globals)",
            (
                "The allowlist must name exactly the globals the file records; a renamed "
                "or moved class is a different name."
            ),
        ),
    },
}

ROLES = {
    "zh": {
        "container": "容器",
        "Python builtin": "Python 内置",
        "torch tensor rebuild": "torch 重建张量",
        "torch class or function": "torch 的类或函数",
        "other code: imported and called when unpickled": "其他代码：反序列化时被导入并调用",
    },
    "en": {
        "container": "container",
        "Python builtin": "Python builtin",
        "torch tensor rebuild": "torch tensor rebuild",
        "torch class or function": "torch class or function",
        "other code: imported and called when unpickled": "other code: imported and called when unpickled",
    },
}

# This module's interface text, registered with its component (app/components/__init__.py).
STRINGS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
STRINGS["zh"].update(
    {
        "sl.title": "交互演示：保存两种文件，改代码，再加载",
        "sl.intro": (
            "服务器真的写了一个 labnet.py，用两种方式保存模型：只存 state_dict，以及"
            " torch.save(model) 整个对象。然后你来“重构代码”，每种加载方式都会在一个"
            "全新的进程里真正执行一遍。"
        ),
        "sl.loading": "正在运行 PyTorch……",
        "sl.save_title": "第一步：保存",
        "sl.module_code": "labnet.py（保存时的代码）",
        "sl.files": "写出的文件",
        "sl.file": "文件",
        "sl.size": "大小（字节）",
        "sl.refactor_title": "第二步：重构代码，然后在新进程里加载",
        "sl.refactor": "对代码做什么改动？",
        "sl.load": "加载",
        "sl.code_now": "改动后的代码文件",
        "sl.ok": "成功",
        "sl.failed": "失败",
        "sl.weights_match": "加载到的权重与保存时逐元素相等",
        "sl.unsafe_globals": "文件里不在白名单上的全局名字：",
        "sl.torch_version": "PyTorch 版本",
        "sl.remedies_title": "补救办法，以及各自什么时候才安全",
        "sl.remedy_state_dict": (
            "最好的办法：只保存 state_dict，加载时用现在的代码建模型。对任何文件都安全，也不怕重构。"
        ),
        "sl.remedy_allowlist": (
            "只对你信任的文件：用 torch.serialization.safe_globals([...])（临时）或"
            " add_safe_globals([...])（全局）把文件里记录的类加入白名单，仍然保持 weights_only=True。"
            "类改了名或挪了位置，就得先让旧名字重新指向它。"
        ),
        "sl.remedy_alias": (
            '只对你信任的文件：让旧名字重新可用（例如 sys.modules["labnet"] = models.net）'
            "，读出来后立刻改存成 state_dict。"
        ),
        "sl.remedy_never": (
            "对不可信的文件，永远不要用 weights_only=False：反序列化会导入并调用文件指定的任意函数。"
        ),
        "sl.inside_title": ".pt 文件里面是什么？",
        "sl.inside_intro": (
            "torch.save 写出的是一个 zip 压缩包（不压缩）；data.pkl 是 pickle，data/ "
            "下是张量的原始字节。下面只读 zip 目录和 pickle 的操作码，不做任何反序列"
            "化。"
        ),
        "sl.show_inside": "打开两个文件看看",
        "sl.zip_entries": "zip 条目",
        "sl.entry": "条目",
        "sl.globals": "pickle 引用的全局名字",
        "sl.role": "作用",
        "sl.allowed": "weights_only 允许",
        "sl.own_code": (
            "这个文件引用了你自己的代码：加载它必须能导入这个类——它被绑在你的代码上"
            "；而一个陌生文件可以在这里写任何函数，所以不可信。"
        ),
        "sl.only_torch": (
            "这个文件只引用 torch 自己重建张量的函数和普通容器：与你的代码无关，weights_only=True "
            "可以安全加载。"
        ),
        "sl.te_title": "train 与 eval：同样的输入，不同的输出",
        "sl.te_intro": (
            "同一个带 BatchNorm 和 Dropout 的模型，对同一个输入连算两次：先在 train "
            "模式，再在 model.eval() 之后。"
        ),
        "sl.te_run": "运行对比",
        "sl.te_mode": "模式",
        "sl.te_diff": "两次输出的最大差值",
        "sl.te_outputs": "两次输出（前几个数）",
        "sl.te_running": "BatchNorm 统计量被更新了？",
        "sl.te_nbt": "num_batches_tracked",
        "sl.te_verdict": (
            "train 模式下 Dropout 随机丢弃、BatchNorm 用当前 batch 的统计量并更新 running "
            "统计，所以两次输出不同；eval 之后完全相同。加载模型做推理前，别忘了 model.eval()。"
        ),
        "sl.yes": "是",
        "sl.no": "否",
        "sl.unknown_refactor": "没有这种改动，可选：{names}",
    }
)
STRINGS["en"].update(
    {
        "sl.title": "Try it: save both ways, change the code, load again",
        "sl.intro": (
            "The server really writes a labnet.py and saves the model both ways: only "
            "the state_dict, and the whole object with torch.save(model). Then you "
            '"refactor the code", and every way of loading really runs in a brand-new '
            "process."
        ),
        "sl.loading": "Running PyTorch…",
        "sl.save_title": "Step 1: save",
        "sl.module_code": "labnet.py (the code at save time)",
        "sl.files": "Files written",
        "sl.file": "file",
        "sl.size": "size (bytes)",
        "sl.refactor_title": "Step 2: refactor the code, then load in a new process",
        "sl.refactor": "What happens to the code?",
        "sl.load": "Load",
        "sl.code_now": "The code files after the change",
        "sl.ok": "ok",
        "sl.failed": "failed",
        "sl.weights_match": "the loaded weights equal the saved ones",
        "sl.unsafe_globals": "Globals in the file that are not on the allowlist:",
        "sl.torch_version": "PyTorch version",
        "sl.remedies_title": "Remedies, and when each is safe",
        "sl.remedy_state_dict": (
            "The best one: save only the state_dict and build the model from the current "
            "code when loading. Safe for any file, and refactors do not matter."
        ),
        "sl.remedy_allowlist": (
            "Only for files you trust: allowlist the classes the file records with "
            "torch.serialization.safe_globals([...]) (for one block) or add_safe_globals([...]) "
            "(for the process), keeping weights_only=True. After a rename or a move, "
            "first make the old name point to the class again."
        ),
        "sl.remedy_alias": (
            'Only for files you trust: make the old name importable again (e.g. sys.modules["labnet"] '
            "= models.net), load, and re-save straight away as a state_dict."
        ),
        "sl.remedy_never": (
            "Never use weights_only=False on a file you do not trust: unpickling imports "
            "and calls whatever function the file names."
        ),
        "sl.inside_title": "Inside a .pt file",
        "sl.inside_intro": (
            "torch.save writes a zip archive (uncompressed): data.pkl is a pickle, "
            "data/ holds the tensors' raw bytes. Below, only the zip directory and "
            "the pickle's opcodes are read; nothing is unpickled."
        ),
        "sl.show_inside": "Open both files",
        "sl.zip_entries": "zip entries",
        "sl.entry": "entry",
        "sl.globals": "Globals the pickle refers to",
        "sl.role": "role",
        "sl.allowed": "allowed by weights_only",
        "sl.own_code": (
            "This file refers to your own code: loading it needs that class importable, "
            "so it is tied to your code; and a stranger's file can name any function "
            "here, which is why it is unsafe."
        ),
        "sl.only_torch": (
            "This file refers only to torch's own tensor-rebuilding helpers and plain "
            "containers: it does not depend on your code, and weights_only=True loads "
            "it safely."
        ),
        "sl.te_title": "train vs eval: same input, different outputs",
        "sl.te_intro": (
            "One model with BatchNorm and Dropout, the same input twice: first in train "
            "mode, then after model.eval()."
        ),
        "sl.te_run": "Run the comparison",
        "sl.te_mode": "mode",
        "sl.te_diff": "largest difference between the two outputs",
        "sl.te_outputs": "the two outputs (first values)",
        "sl.te_running": "BatchNorm statistics updated?",
        "sl.te_nbt": "num_batches_tracked",
        "sl.te_verdict": (
            "In train mode Dropout drops at random and BatchNorm uses (and updates) "
            "the batch's statistics, so the two outputs differ; after eval() they are "
            "identical. Call model.eval() before inference on a loaded model."
        ),
        "sl.yes": "yes",
        "sl.no": "no",
        "sl.unknown_refactor": "No such change; choose one of: {names}",
    }
)
