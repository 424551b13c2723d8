"""Interface text of the CheckpointInspector, Chinese and English."""

# This module's interface text, registered with its component (app/components/__init__.py).
STRINGS: dict[str, dict[str, str]] = {"zh": {}, "en": {}}
STRINGS["zh"].update(
    {
        "ci.title": "交互演示：检查你自己的 checkpoint 文件",
        "ci.intro": (
            "上传你自己训练脚本写出的 checkpoint（.pt、.pth、.ckpt、.bin、.safetensors……，或把 HF Trainer / "
            "Accelerate 的 "
            "checkpoint 文件夹打成 zip），先看它能不能精确续训、缺了什么，再看里面的 key、形状、dtype、数值"
            "统计、zip 条目和 pickle 引用的全局名字。文件只会用 "
            "weights_only=True 在一个受限的临时进程里打开，检查完立刻删除；报告只有你自己能看到。"
        ),
        "ci.file": "选择文件（超过 {limit} MiB 的文件只读取文件头）",
        "ci.big_js": (
            "这个文件（{{size}}）超过了 {limit} MiB：只发送它的前 {head} 和最后 {tail}，只读取文件头"
            "（结构、形状、dtype、能否续训），不读张量的数值。"
        ),
        "ci.noscript": (
            "没有 JavaScript 时只能检查不超过 {limit} MiB 的文件：更大的文件要由本页的脚本只发送它的文件头。"
        ),
        "ci.head_tail": (
            "只读取了文件头：浏览器只发送了这个 {size} 文件的前 "
            "{head} 和最后 {tail}（zip 的目录），其余部分没有上传。"
            "能看出：结构、key、dtype 和形状、pickle 里的全局名和安全结论、"
            "能否续训；看不出：张量的数值、统计量和哈希。"
        ),
        "ci.back": "返回课程",
        "ci.reject.head_too_large": "发送的文件头超过了允许的大小（{detail}），服务器没有保存它。",
        "ci.reject.tail_too_large": "发送的文件尾超过了允许的大小（{detail}），服务器没有保存它。",
        "ci.reject.header_size": "只发送文件头时，需要在 size 字段里给出文件的真实大小（字节数）。",
        "ci.reject.header_not_needed": "这个文件没有超过 {limit} MiB 的上限：请上传整个文件。",
        "ci.reject.header_too_large": "文件太大了（{detail}），只读文件头也不行。",
        "ci.reject.header_parts": "文件头和文件尾加起来比文件本身还大：{detail}。",
        "ci.reject.header_mixed": (
            "请上传整个文件（file），或者只上传它的文件头和文件尾（head、tail），不要两者都传。"
        ),
        "ci.submit": "上传并检查",
        "ci.working": "正在检查……",
        "ci.recent": "你最近的报告",
        "ci.reject.too_large": (
            "文件超过了 {limit} MiB 的上传上限，服务器没有保存它。"
            "开启 JavaScript 后，本页只发送大文件的文件头来检查它。"
        ),
        "ci.reject.extension": "不支持这种文件类型：请上传 .pt、.pth、.bin、.ckpt 或 .safetensors 文件。",
        "ci.reject.no_file": "请先选择一个文件。",
        "ci.reject.not_multipart": "请求里没有文件（需要 multipart/form-data）。",
        "ci.reject.malformed": "上传的数据无法解析：{detail}",
        "ci.stage.extension": "不支持这种文件类型。",
        "ci.stage.empty": "文件是空的（0 字节），没有东西可检查。",
        "ci.stage.limits": "文件超出了检查器的安全限制，没有读取内容。",
        "ci.stage.no_header": (
            "文件超过了上限，而且这种格式不能只读文件头："
            "torch 的旧格式（torch < 1.6）和普通 pickle 没有目录，张量紧跟在 pickle 后面。"
            "请加载后用 torch.save 的默认（zip）格式重新保存，再上传。"
        ),
        "ci.stage.format": "这不是 PyTorch 或 safetensors 文件，或者文件已损坏。",
        "ci.stage.load": "PyTorch 无法读取这个文件。",
        "ci.stage.sandbox": "检查过程失败。",
        "ci.stage.inspect": "检查过程失败。",
        "ci.safe": "安全：用 weights_only=True 加载成功，只含张量、数字、字符串和普通容器。",
        "ci.unsafe": "已拒绝：文件要求执行不在白名单上的代码。里面的任何代码都没有被执行。",
        "ci.unknown": "无法判断：文件没能被完整检查。",
        "ci.details": "原始信息",
        "ci.format": "格式",
        "ci.size": "大小",
        "ci.globals": "pickle 引用的全局名字",
        "ci.globals_incomplete": "pickle 格式不正常，列表可能不完整。",
        "ci.no_globals": "没有（safetensors 不含 pickle）。",
        "ci.foreign": "torch 和标准容器以外的代码",
        "ci.zip": "zip 条目",
        "ci.entry": "条目",
        "ci.tree": "key 树",
        "ci.path": "key",
        "ci.kind": "类型",
        "ci.shape": "形状",
        "ci.dtype": "dtype",
        "ci.numel": "元素个数",
        "ci.bytes": "字节",
        "ci.stats": "均值 / 标准差 / 最小 / 最大",
        "ci.sampled": "（按前若干个元素统计）",
        "ci.totals": "共 {leaves} 个叶子，其中 {tensors} 个张量，{numel} 个数，{bytes} 字节",
        "ci.truncated": "条目太多，只显示了一部分。",
        "ci.notes": "说明",
        "ci.metadata": "safetensors 元数据",
        "ci.show": "查看",
        "ci.tag.safe": "安全",
        "ci.tag.unsafe": "已拒绝",
        "ci.tag.unknown": "无法检查",
        "ci.stage.unsupported": (
            "PyTorch 的 weights_only 加载器不支持这个 pickle 的写法。这不是安全判断：文件没有要求执行代码，"
            "只是不能按 checkpoint 读取。"
        ),
        "ci.reject.busy": "现在排队检查的文件太多了，请过一分钟再试。",
        "ci.reject.no_session": "请先打开课程页面，再上传文件。",
        "ci.reject.busy_session": "你已经有文件正在检查，请等它完成再上传下一个。",
        "ci.node": "{keys} · {tensors} · {size}",
        "ci.keys": "{n} 个 key",
        "ci.keys_one": "{n} 个 key",
        "ci.tensors": "{n} 个张量",
        "ci.tensors_one": "{n} 个张量",
        "ci.more": "……还有 {n} 项没有显示",
        "ci.more_keys": "……还有 {n} 个 key 没有显示（报告的大小有上限）。",
        "ci.more_keys_one": "……还有 {n} 个 key 没有显示（报告的大小有上限）。",
        "ci.stage.truncated": (
            "文件被截断了：它的开头是 torch.save 的 zip 归档，结尾（zip 目录）却不见了——多半是写入时崩溃或磁"
            "盘满了。见 6.3.2 节：原子写入。"
        ),
        "ci.group_more": "……这一组还有 {n} 个 key 没有显示（{size}）",
        "ci.group_more_one": "……这一组还有 {n} 个 key 没有显示（{size}）",
        "ci.allowed": "允许",
        "ci.refused": "拒绝",
    }
)
STRINGS["en"].update(
    {
        "ci.title": "Try it: inspect your own checkpoint file",
        "ci.intro": (
            "Upload the checkpoint your own training script writes (.pt, .pth, .ckpt, .bin, .safetensors, …, "
            "or an HF Trainer / Accelerate checkpoint folder as a zip): first whether it resumes exactly and "
            "what is missing, then its keys, shapes, dtypes, value statistics, zip entries and the globals "
            "its pickle refers to. The file is only opened with weights_only=True, in a limited throwaway "
            "process, and deleted right after; only you can see the report."
        ),
        "ci.file": "Choose a file (above {limit} MiB, only its header is read)",
        "ci.big_js": (
            "This file ({{size}}) is larger than {limit} MiB: only its first {head} and its last {tail} are "
            "sent, and it is read from its header (structure, shapes, dtypes, the resume audit), without its "
            "tensor values."
        ),
        "ci.noscript": (
            "Without JavaScript, files up to {limit} MiB can be inspected: a larger one is read from its "
            "header, which this page's script sends on its own."
        ),
        "ci.head_tail": (
            "Read from its header only: your browser sent the first {head} and the last {tail} (the zip's "
            "directory) of this {size} file, not the rest. "
            "That tells its structure, keys, dtypes and shapes, "
            "the pickled globals and the safety verdict, and the resume audit; not its tensor values, "
            "statistics or hashes."
        ),
        "ci.back": "Back to the lesson",
        "ci.reject.head_too_large": (
            "The head sent is larger than allowed ({detail}); the server did not keep it."
        ),
        "ci.reject.tail_too_large": (
            "The tail sent is larger than allowed ({detail}); the server did not keep it."
        ),
        "ci.reject.header_size": (
            "A header-only upload needs the file's real size in bytes in the 'size' field."
        ),
        "ci.reject.header_not_needed": "This file is within the {limit} MiB limit: upload the whole file.",
        "ci.reject.header_too_large": "The file is too large even to be read from its header ({detail}).",
        "ci.reject.header_parts": "The head and the tail are larger than the file itself: {detail}.",
        "ci.reject.header_mixed": (
            "Send either the whole file ('file') or its head and tail ('head', 'tail'), not both."
        ),
        "ci.submit": "Upload and inspect",
        "ci.working": "Inspecting…",
        "ci.recent": "Your recent reports",
        "ci.reject.too_large": (
            "The file is larger than the {limit} MiB upload limit; the server did not keep it. With "
            "JavaScript on, this page sends only a large file's header, and it is read from that."
        ),
        "ci.reject.extension": (
            "Unsupported file type: please upload a .pt, .pth, .bin, .ckpt or .safetensors file."
        ),
        "ci.reject.no_file": "Please choose a file first.",
        "ci.reject.not_multipart": "The request holds no file (multipart/form-data expected).",
        "ci.reject.malformed": "The upload could not be read: {detail}",
        "ci.stage.extension": "Unsupported file type.",
        "ci.stage.empty": "The file is empty (0 bytes): there is nothing to inspect.",
        "ci.stage.limits": "The file exceeds the inspector's safety limits; its content was not read.",
        "ci.stage.no_header": (
            "Above the limit, and in a format that cannot be read from its header: torch's old format "
            "(torch < 1.6) and a plain pickle have no directory, their tensors follow the pickle. Load it, "
            "save it again with torch.save's default (zip) format, and upload that."
        ),
        "ci.stage.format": "Not a PyTorch or safetensors file, or a damaged one.",
        "ci.stage.load": "PyTorch cannot read this file.",
        "ci.stage.sandbox": "The inspection failed.",
        "ci.stage.inspect": "The inspection failed.",
        "ci.safe": (
            "Safe: loaded with weights_only=True; it holds only tensors, numbers, strings and plain "
            "containers."
        ),
        "ci.unsafe": (
            "Refused: the file asks to run code that is not on the allowlist. Nothing in it was executed."
        ),
        "ci.unknown": "No verdict: the file could not be fully inspected.",
        "ci.details": "Details",
        "ci.format": "format",
        "ci.size": "size",
        "ci.globals": "Globals the pickle refers to",
        "ci.globals_incomplete": "The pickle is malformed; the list may be incomplete.",
        "ci.no_globals": "None (safetensors holds no pickle).",
        "ci.foreign": "code outside torch and the standard containers",
        "ci.zip": "zip entries",
        "ci.entry": "entry",
        "ci.tree": "Key tree",
        "ci.path": "key",
        "ci.kind": "kind",
        "ci.shape": "shape",
        "ci.dtype": "dtype",
        "ci.numel": "elements",
        "ci.bytes": "bytes",
        "ci.stats": "mean / std / min / max",
        "ci.sampled": "(from the leading elements)",
        "ci.totals": "{leaves} leaves, {tensors} of them tensors: {numel} values, {bytes} bytes",
        "ci.truncated": "Too many entries: only part of them is shown.",
        "ci.notes": "Notes",
        "ci.metadata": "safetensors metadata",
        "ci.show": "Show",
        "ci.tag.safe": "safe",
        "ci.tag.unsafe": "refused",
        "ci.tag.unknown": "not inspected",
        "ci.stage.unsupported": (
            "torch's weights_only loader does not support the way this pickle is written. This is not a "
            "safety verdict: the file asks to run no code; it just cannot be read as a checkpoint."
        ),
        "ci.reject.busy": (
            "Too many files are waiting to be inspected right now; please try again in a minute."
        ),
        "ci.reject.no_session": "Please open the lesson page before uploading a file.",
        "ci.reject.busy_session": (
            "A file of yours is still being inspected; please wait for it before uploading the next."
        ),
        "ci.node": "{keys} · {tensors} · {size}",
        "ci.keys": "{n} keys",
        "ci.keys_one": "{n} key",
        "ci.tensors": "{n} tensors",
        "ci.tensors_one": "{n} tensor",
        "ci.more": "… {n} more not shown",
        "ci.more_keys": "… {n} more keys not shown (a report's size is capped).",
        "ci.more_keys_one": "… {n} more key not shown (a report's size is capped).",
        "ci.stage.truncated": (
            "The file is truncated: it starts as a torch.save zip archive but its end (the zip's directory) "
            "is missing — most likely a crash or a full disk while it was being written. See 6.3.2, atomic "
            "writes."
        ),
        "ci.group_more": "… {n} more keys of this group not shown ({size})",
        "ci.group_more_one": "… {n} more key of this group not shown ({size})",
        "ci.allowed": "allowed",
        "ci.refused": "refused",
    }
)
