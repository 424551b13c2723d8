"""Interface text of the ShardedCheckpointLab, Chinese and English."""

# Registered with the component (app/components/__init__.py).
STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "scl.title": "动手试试：多个进程一起存一个 checkpoint",
        "scl.intro": (
            "服务器真的启动 N 个进程（rank），用 gloo 在 CPU 上组成一个分布式训练，训练几步后用 "
            "torch.distributed.checkpoint 保存。每个 rank 写自己的文件，rank 0 最后写 .metadata。"
        ),
        "scl.world": "保存时的 rank 数（N）",
        "scl.sharding": "权重怎么放",
        "scl.replicated": "复制（像 DDP：每个 rank 都有全部权重）",
        "scl.sharded": "切分（像 FSDP：每个 rank 只有每个权重的几行）",
        "scl.load_world": "加载时的 rank 数（M）",
        "scl.run_save": "保存",
        "scl.run_reshard": "保存，再用 M 个 rank 加载",
        "scl.run_killed": "保存时杀掉一个 rank",
        "scl.run_ddp": "DDP：谁来存，随机状态存谁的",
        "scl.working": "各个 rank 正在运行……",
        "scl.files": "写出的文件",
        "scl.file": "文件",
        "scl.writer": "写它的 rank",
        "scl.bytes": "字节",
        "scl.holds": "里面有",
        "scl.rows": "第 {start}–{end} 行（共 {total} 行）",
        "scl.coordinator": "rank 0（协调者）",
        "scl.rank": "rank {rank}",
        "scl.metadata_note": "索引：每个张量的每一块在哪个文件的哪个位置",
        "scl.saved_sharded": "{n} 个 rank 各写了自己那几行：同一个张量分散在 {n} 个文件里。",
        "scl.saved_replicated": (
            "每个 rank 都有全部权重，但 DCP 每个张量只写一次，由某一个 rank 写：文件大小不同，没有重复。"
        ),
        "scl.saved_one": "只有一个 rank：一个数据文件，加一个 .metadata。",
        "scl.loaded_on": "在 {m} 个 rank 上加载（模型用别的随机初始值新建），逐块和保存的权重比较：",
        "scl.loaded_plain": (
            "M = 1：用 dcp_to_torch_save 转成普通的 torch.save 文件（{via}），加载进普通模型："
        ),
        "scl.tensor": "张量",
        "scl.slice": "这个 rank 拿到的行",
        "scl.diff": "最大 |Δ|",
        "scl.all_equal": "全部相等：最大 |Δ| = {d}。N 个 rank 存的，M 个 rank 一样能读。",
        "scl.not_equal": "有不相等的块：最大 |Δ| = {d}。",
        "scl.killed_before": "第 4 步：保存成功，.metadata 已写。",
        "scl.killed_during": (
            "第 8 步保存时，rank {victim} 写完自己的文件后被 SIGKILL，没来得及告诉协调者。"
        ),
        "scl.on_disk": "第 8 步的文件夹里现在有：",
        "scl.no_metadata": "没有 .metadata：数据文件都在，但它们不是一个 checkpoint。",
        "scl.rank_fate": "各个 rank 的结局",
        "scl.killed_rank": "被 SIGKILL 杀死（退出码 {code}）",
        "scl.load_error": "加载这个文件夹时 torch 说：",
        "scl.previous_ok": "上一个 checkpoint（第 4 步）完好，加载后和保存的权重完全相等（最大 |Δ| = {d}）。",
        "scl.killed_lesson": (
            "和 6.3.2 的原子写入是一回事：.metadata 最后写，它不在，就说明这次保存没完成；"
            "恢复时用上一个完整的文件夹。"
        ),
        "scl.ddp_files": "只让 rank 0 保存，和每个 rank 都保存：",
        "scl.rank0_only": "只在 rank 0 上 torch.save",
        "scl.every_rank": "每个 rank 都 torch.save（各写各的文件名）",
        "scl.ddp_same": "DDP 下各个 rank 的权重完全一样：多写的文件只是副本，所以只让 rank 0 存就够了。",
        "scl.masks": "每个 rank 上 Dropout 的掩码（1 保留，0 丢弃）",
        "scl.mask_live": "接着训练",
        "scl.mask_rank0": "每个 rank 都恢复 rank 0 的随机状态",
        "scl.mask_own": "每个 rank 恢复自己的随机状态",
        "scl.masks_lesson": (
            "只存了 rank 0 的随机状态、恢复到所有 rank 上，所有 rank 就丢弃同样的单元，"
            "数据增强也一样：随机状态要按 rank 各存一份。"
        ),
        "scl.failed": "这个 rank 出错了：",
        "scl.waiting": "在队列里等待：排第 {n} 位。各个 rank 一有空位就启动。",
        "scl.job_failed": "这次实验没能完成：",
        "scl.bad_choice": "请选择 1、2 或 4 个 rank，以及一种权重放法。",
        "scl.limit_active": "已达上限：同时最多 {n} 个任务排队或运行。等一个结束再开始。",
        "scl.limit_queue": "队列已满，请一分钟后再试。",
    },
    "en": {
        "scl.title": "Try it: one checkpoint, saved by several processes",
        "scl.intro": (
            "The server really starts N processes (ranks) that form a distributed job with gloo on the "
            "CPU, train a few steps and save with torch.distributed.checkpoint. Each rank writes its own "
            "file; rank 0 writes .metadata last."
        ),
        "scl.world": "Ranks that save (N)",
        "scl.sharding": "Where the weights live",
        "scl.replicated": "Replicated (like DDP: every rank holds every weight)",
        "scl.sharded": "Sharded (like FSDP: each rank holds some rows of every weight)",
        "scl.load_world": "Ranks that load (M)",
        "scl.run_save": "Save",
        "scl.run_reshard": "Save, then load on M ranks",
        "scl.run_killed": "Kill a rank during the save",
        "scl.run_ddp": "DDP: who saves, and whose random state",
        "scl.working": "The ranks are running…",
        "scl.files": "The files written",
        "scl.file": "File",
        "scl.writer": "Written by",
        "scl.bytes": "Bytes",
        "scl.holds": "Holds",
        "scl.rows": "rows {start}–{end} of {total}",
        "scl.coordinator": "rank 0 (the coordinator)",
        "scl.rank": "rank {rank}",
        "scl.metadata_note": "the index: where each piece of each tensor lives, file and byte range",
        "scl.saved_sharded": "Each of the {n} ranks wrote its own rows: one tensor is spread over {n} files.",
        "scl.saved_replicated": (
            "Every rank holds every weight, yet DCP writes each tensor once, by one rank: the files differ "
            "in size and nothing is written twice."
        ),
        "scl.saved_one": "One rank: one data file, and a .metadata.",
        "scl.loaded_on": (
            "Loaded on {m} ranks (into a model built with other random weights) and compared with the "
            "saved weights, slice by slice:"
        ),
        "scl.loaded_plain": (
            "M = 1: dcp_to_torch_save turned the folder into a plain torch.save file ({via}), loaded into a "
            "plain model:"
        ),
        "scl.tensor": "Tensor",
        "scl.slice": "Rows this rank holds",
        "scl.diff": "Max |Δ|",
        "scl.all_equal": "All equal: max |Δ| = {d}. What N ranks saved, M ranks read.",
        "scl.not_equal": "Some slices differ: max |Δ| = {d}.",
        "scl.killed_before": "Step 4: saved, .metadata written.",
        "scl.killed_during": (
            "During the save of step 8, rank {victim} wrote its file and was SIGKILLed before it could "
            "tell the coordinator."
        ),
        "scl.on_disk": "The step-8 folder now holds:",
        "scl.no_metadata": "No .metadata: every data file is there, and still they are not a checkpoint.",
        "scl.rank_fate": "What became of each rank",
        "scl.killed_rank": "killed by SIGKILL (exit code {code})",
        "scl.load_error": "Loading that folder, torch says:",
        "scl.previous_ok": (
            "The previous checkpoint (step 4) is intact: loaded, it equals the saved weights (max |Δ| = {d})."
        ),
        "scl.killed_lesson": (
            "The same idea as the atomic write of 6.3.2: .metadata comes last, so a folder without it is a "
            "save that never finished; resume from the last complete folder."
        ),
        "scl.ddp_files": "Saving on rank 0 only, and on every rank:",
        "scl.rank0_only": "torch.save on rank 0 only",
        "scl.every_rank": "torch.save on every rank (each its own file name)",
        "scl.ddp_same": (
            "Under DDP every rank holds the same weights: the extra files are copies, so rank 0 alone "
            "is enough."
        ),
        "scl.masks": "Dropout's mask on each rank (1 kept, 0 dropped)",
        "scl.mask_live": "Training on",
        "scl.mask_rank0": "Every rank restores rank 0's random state",
        "scl.mask_own": "Each rank restores its own random state",
        "scl.masks_lesson": (
            "A checkpoint that kept rank 0's random state only, restored on every rank, makes every rank "
            "drop the same units (and draw the same augmentations): save the random state once per rank."
        ),
        "scl.failed": "This rank failed:",
        "scl.waiting": "Waiting in line: place {n}. The ranks start as soon as there is room for them.",
        "scl.job_failed": "The experiment could not finish:",
        "scl.bad_choice": "Choose 1, 2 or 4 ranks and a way to place the weights.",
        "scl.limit_active": "Limit reached: at most {n} jobs may wait or run at once. Wait for one to end.",
        "scl.limit_queue": "The queue is full; try again in a minute.",
    },
}
