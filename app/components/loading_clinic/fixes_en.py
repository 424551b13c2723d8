"""The LoadingClinic's fixes for each case, in English: (label, why it works or does not)."""

FIXES_EN: dict[str, dict[str, tuple[str, str]]] = {
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
}
