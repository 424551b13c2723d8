"""The chapter-6 labs over HTTP: real PyTorch in the sandbox, rendered and served as JSON."""

from __future__ import annotations

import json
import pathlib
import pickle
import struct

import pytest
import torch

from app.components.checkpoint_inspector import upload as upload_mod
from app.components.loading_clinic.service import CASE_IDS, FIX_IDS
from app.components.save_load_lab.service import REFACTOR_NAMES
from app.components.state_dict_explorer.service import MODEL_NAMES

HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def lab_client(tmp_path_factory):
    """One app for the module: the lab caches make repeated questions cheap, as in class."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    data = tmp_path_factory.mktemp("labs") / "data"
    settings = Settings(
        data_dir=data,
        tutorials_dir=REPO / "tutorials",
        secret_key="t",
        pretrained_dir=tmp_path_factory.mktemp("nopre"),
    )
    with TestClient(create_app(settings)) as client:
        client.data_dir = data
        client.get("/api/session")  # as a browser opening the lesson: uploads need a session
        yield client


def test_the_web_side_names_what_the_labs_define():
    from app.ml.labs import clinic, saveload, statedict

    assert set(MODEL_NAMES) == set(statedict.MODELS)
    assert set(REFACTOR_NAMES) == set(saveload.REFACTORS)
    assert set(CASE_IDS) == set(clinic.CASES)
    assert {c: set(f) for c, f in FIX_IDS.items()} == {c: set(f) for c, f in clinic.CANDIDATES.items()}
    from app.ml.labs.inspector import SAFETENSORS_EXTENSIONS, TORCH_EXTENSIONS

    assert set(upload_mod.ALLOWED_EXTENSIONS) == set(TORCH_EXTENSIONS + SAFETENSORS_EXTENSIONS)


# ------------------------------------------------------------------ StateDictExplorer


def test_state_dict_explorer_lists_buffers_and_stateless_modules(lab_client):
    r = lab_client.get("/api/state-dict-explorer/models/cnn_bn")
    assert r.status_code == 200, r.text
    view = r.json()
    kinds = {e["key"]: e["kind"] for e in view["entries"]}
    assert (
        kinds["features.1.running_mean"] == "buffer" and kinds["features.1.num_batches_tracked"] == "buffer"
    )
    assert kinds["features.0.weight"] == "parameter"
    assert {"ReLU", "MaxPool2d", "Dropout"} <= {m["type"] for m in view["stateless_modules"]}

    html = lab_client.get(
        "/components/state-dict-explorer/explore", params={"model": "cnn_bn", "lang": "en"}
    ).text
    assert 'data-key="features.1.running_mean" data-kind="buffer"' in html
    assert '<li data-type="ReLU">' in html
    assert lab_client.get("/api/state-dict-explorer/models/resnet").status_code == 422
    bad = lab_client.get("/components/state-dict-explorer/explore", params={"model": "<b>x</b>"})
    assert bad.status_code == 200 and "notice-bad" in bad.text and "<b>x</b>" not in bad.text


def test_state_dict_reference_demo(lab_client):
    demo = lab_client.get("/api/state-dict-explorer/reference").json()
    assert demo["alias_changed"] and not demo["copy_changed"] and demo["alias_shares_memory"]
    assert demo["alias_after"] == demo["live_after"] and demo["copy"] == demo["alias_before"]
    html = lab_client.get("/components/state-dict-explorer/reference", params={"lang": "zh"}).text
    assert 'data-alias-changed="true"' in html and "deepcopy" in html


# ------------------------------------------------------------------ SaveLoadLab


def attempts_by_label(result: dict) -> dict:
    return {a["label"]: a for a in result["load"]["attempts"]}


def test_save_load_lab_rename_breaks_the_whole_model_only(lab_client):
    r = lab_client.get("/api/save-load-lab/refactors/rename_class")
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["save"]["files"]["weights.pt"] > 0 and result["save"]["files"]["whole_model.pt"] > 0
    a = attempts_by_label(result)
    assert a["state_dict"]["ok"] and a["state_dict"]["matches_saved_weights"] is True
    assert a["whole model, weights_only=False"]["error_type"] == "AttributeError"
    assert "LabNet" in a["whole model, weights_only=False"]["error"]
    assert a["whole model, default torch.load"]["error_type"] == "UnpicklingError"
    # The server's temporary folder is not shown; the work folder was removed.
    assert "/tmp" not in str(result) and str(lab_client.data_dir) not in str(result)
    assert not any((lab_client.data_dir / "tmp").iterdir())

    html = lab_client.get(
        "/components/save-load-lab/refactor", params={"refactor": "rename_class", "lang": "en"}
    ).text
    assert 'data-error-type="AttributeError"' in html and 'data-label="state_dict" data-ok="true"' in html


def test_save_load_lab_move_and_no_change(lab_client):
    moved = attempts_by_label(lab_client.get("/api/save-load-lab/refactors/move_module").json())
    assert moved["state_dict"]["ok"]
    assert moved["whole model, weights_only=False"]["error_type"] == "ModuleNotFoundError"
    same = attempts_by_label(lab_client.get("/api/save-load-lab/refactors/none").json())
    assert same["whole model, weights_only=False"]["ok"]
    assert same["whole model, default torch.load"]["error_type"] == "UnpicklingError"
    assert lab_client.get("/api/save-load-lab/refactors/delete_everything").status_code == 422


def test_inside_a_pt_file_and_train_vs_eval(lab_client):
    inside = lab_client.get("/api/save-load-lab/inside").json()
    assert not inside["weights.pt"]["references_own_code"]
    assert inside["whole_model.pt"]["references_own_code"]
    assert "labnet.LabNet" in [g["name"] for g in inside["whole_model.pt"]["globals"]]
    assert any(e["name"].endswith("data.pkl") for e in inside["weights.pt"]["zip"]["entries"])
    html = lab_client.get("/components/save-load-lab/inside", params={"lang": "en"}).text
    assert 'data-global="labnet.LabNet"' in html and 'data-own-code="true"' in html

    te = lab_client.get("/api/save-load-lab/train-eval").json()
    assert te["train"]["max_abs_diff"] > 0 and te["eval"]["max_abs_diff"] == 0
    assert "model.eval()" in lab_client.get("/components/save-load-lab/train-eval").text


# ------------------------------------------------------------------ LoadingClinic


def test_clinic_cuda_case(lab_client):
    case = lab_client.get("/api/loading-clinic/cases/cuda_checkpoint").json()
    assert "CUDA" in case["error"] and case["fixed"] is True
    assert case["evidence"]["devices"] == ["cpu"]
    html = lab_client.get("/components/loading-clinic/cases/cuda_checkpoint", params={"lang": "en"}).text
    # An exercise: torch's error, then candidate fixes to choose from (the answer is not shown).
    assert "Attempting to deserialize object on a CUDA device" in html and 'name="fix"' in html
    assert "map_location=&#34;cpu&#34;" in html and "data-fixed" not in html


def test_clinic_right_fix_solves_and_wrong_ones_show_torchs_error(lab_client):
    api = "/api/loading-clinic/cases/size_mismatch/fixes"
    right = lab_client.get(f"{api}/shape_filter").json()
    assert right["right"] and right["fixed"] and right["error"] is None
    assert right["proof"] == {"body_equal": True, "head_fits_3_classes": True}
    myth = lab_client.get(f"{api}/strict_false").json()
    assert (
        not myth["fixed"]
        and myth["error_type"] == "RuntimeError"
        and "size mismatch for fc.weight" in myth["error"]
    )
    # Loads without an error, and still is not the fix: the checks say why.
    wrong = lab_client.get(f"{api}/ten_classes").json()
    assert wrong["error"] is None and not wrong["fixed"] and wrong["proof"]["head_fits_3_classes"] is False
    assert "10" in wrong["why"]
    assert lab_client.get(f"{api}/nope").status_code == 404
    html = lab_client.get(
        "/components/loading-clinic/cases/dataparallel_prefix/try",
        params={"fix": "strict_false", "lang": "zh"},
    ).text
    assert (
        'data-fixed="false"' in html and "没有报错，但问题并没有解决" in html and "一个张量都没加载" in html
    )
    html = lab_client.get(
        "/components/loading-clinic/cases/dataparallel_prefix/try",
        params={"fix": "consume_prefix", "lang": "en"},
    ).text
    assert 'data-solved="dataparallel_prefix"' in html and "✓ holds" in html
    html = lab_client.get(
        "/components/loading-clinic/cases/dataparallel_prefix/try", params={"fix": "x", "lang": "zh"}
    ).text
    assert "这个病例没有这个修复方案" in html
    cases = lab_client.get("/api/loading-clinic/cases").json()["cases"]
    assert list(cases["truncated_file"]["fixes"]) == list(FIX_IDS["truncated_file"])


@pytest.mark.parametrize(
    "case_id",
    [
        "renamed_layer",
        "dataparallel_prefix",
        "size_mismatch",
        "truncated_file",
        "resume_order",
        "unfreeze_groups",
        "compile_prefix",
        "numpy_weights_only",
        "safetensors_shared",
    ],
)
def test_clinic_cases_fail_then_get_fixed(lab_client, case_id):
    case = lab_client.get(f"/api/loading-clinic/cases/{case_id}").json()
    assert case["error_type"] and case["fixed"] is True, case
    expected = {
        "renamed_layer": "Missing key(s)",
        "dataparallel_prefix": "module.",
        "size_mismatch": "size mismatch",
        "truncated_file": "central directory",
        "resume_order": "expected dtype float for `end` but got dtype double",
        "unfreeze_groups": "doesn't match the size of optimizer's group",
        "compile_prefix": '"_orig_mod.body.weight"',
        "numpy_weights_only": "numpy._core.multiarray._reconstruct",
        "safetensors_shared": "Some tensors share memory",
    }[case_id]
    assert expected in case["error"]


def test_clinic_chapter_7_fixes_in_the_sandbox(lab_client):
    api = "/api/loading-clinic/cases"
    # The compiler's import runs in the sandbox too: model.compile() keeps the plain keys.
    wrong = lab_client.get(f"{api}/compile_prefix/fixes/compile_too").json()
    assert not wrong["fixed"] and "_orig_mod.body.weight" in wrong["error"] and "in place" in wrong["why"]
    nxt = lab_client.get(f"{api}/numpy_weights_only/fixes/allow_reconstruct").json()
    assert nxt["error_type"] == "UnpicklingError" and "GLOBAL numpy.ndarray" in nxt["error"]
    right = lab_client.get(f"{api}/safetensors_shared/fixes/save_model").json()
    assert right["fixed"] and right["proof"] == {"weights_equal": True, "still_tied": True}
    assert right["broken"]["error_from"] == "safetensors"
    html = lab_client.get(
        "/components/loading-clinic/cases/safetensors_shared/try", params={"fix": "contiguous", "lang": "en"}
    ).text
    assert (
        "It raised too — safetensors says, in its own words" in html and "Some tensors share memory" in html
    )
    html = lab_client.get("/components/loading-clinic/cases/safetensors_shared", params={"lang": "zh"}).text
    assert "safetensors 的真实报错" in html and "Some tensors share memory" in html
    html = lab_client.get(
        "/components/loading-clinic/cases/numpy_weights_only/try",
        params={"fix": "weights_only_false", "lang": "zh"},
    ).text
    assert 'data-fixed="false"' in html and "没有报错，但问题并没有解决" in html and "关掉了保护" in html
    assert 'data-proof="file_loads_with_weights_only" data-holds="false"' in html
    html = lab_client.get(
        "/components/loading-clinic/cases/unfreeze_groups/try",
        params={"fix": "same_groups_then_add", "lang": "en"},
    ).text
    assert 'data-solved="unfreeze_groups"' in html and "add_param_group" in html
    html = lab_client.get("/components/loading-clinic/cases/resume_order", params={"lang": "zh"}).text
    assert "续训顺序" in html and "expected dtype float for `end` but got dtype double" in html
    assert 'id="cl-fix-build_move_load"' in html


def test_clinic_unknown_case(lab_client):
    assert lab_client.get("/api/loading-clinic/cases/nope").status_code == 422
    r = lab_client.get("/components/loading-clinic/cases/nope")
    assert r.status_code == 200 and "notice-bad" in r.text


# ------------------------------------------------------------------ CheckpointInspector


def upload_api(client, name: str, data: bytes):
    return client.post(
        "/api/checkpoint-inspector/reports", files={"file": (name, data, "application/octet-stream")}
    )


def upload_html(client, name: str, data: bytes):
    return client.post(
        "/components/checkpoint-inspector/upload",
        params={"lang": "en"},
        headers=HX,
        files={"file": (name, data, "application/octet-stream")},
    )


def torch_bytes(obj, tmp_path) -> bytes:
    path = tmp_path / "made.pt"
    torch.save(obj, path)
    return path.read_bytes()


def uploads_left(client) -> list:
    root = client.data_dir / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_inspect_a_real_checkpoint(lab_client, tmp_path):
    torch.manual_seed(0)
    ckpt = {
        "epoch": 3,
        "model_state_dict": torch.nn.Linear(4, 2).state_dict(),
        "optimizer_state_dict": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
    }
    r = upload_api(lab_client, "run.ckpt", torch_bytes(ckpt, tmp_path))
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    assert report["verdict"]["safe"] is True
    leaves = {leaf["path"]: leaf for leaf in report["tree"]}
    assert leaves["model_state_dict.weight"]["shape"] == [2, 4]
    assert leaves["model_state_dict.weight"]["stats"]["mean"] is not None
    assert leaves["epoch"]["value"] == "3"
    assert any(e["name"].endswith("data.pkl") for e in report["zip"]["entries"])
    assert not uploads_left(lab_client)

    html = upload_html(lab_client, "run.pt", torch_bytes(ckpt, tmp_path))
    assert html.status_code == 200
    assert 'data-safe="true"' in html.text and 'data-path="model_state_dict.weight"' in html.text
    assert "verdict-safe" in html.text and 'id="ci-recent"' in html.text


class Payload:
    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_a_malicious_pickle_is_refused_and_never_runs(lab_client, tmp_path):
    # The payload is real: loading it the unsafe way does create its marker.
    proof = tmp_path / "proof-marker"
    path = tmp_path / "proof.pt"
    torch.save({"weights": torch.zeros(2), "x": Payload(proof)}, path)
    torch.load(path, weights_only=False)
    assert proof.exists()

    marker = tmp_path / "pwned-marker"
    evil = torch_bytes({"weights": torch.zeros(2), "x": Payload(marker)}, tmp_path)
    r = upload_api(lab_client, "evil.pt", evil)
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    assert report["verdict"]["safe"] is False
    assert "pathlib" in " ".join(report["verdict"]["globals"])
    html = upload_html(lab_client, "evil.pth", evil)
    assert 'data-safe="false"' in html.text and "verdict-unsafe" in html.text
    assert not marker.exists()
    assert not uploads_left(lab_client)

    # A plain pickle (not torch.save) is refused the same way.
    plain = pickle.dumps(Payload(marker))
    assert upload_api(lab_client, "plain.bin", plain).json()["report"]["verdict"]["safe"] is False
    assert not marker.exists()


@pytest.mark.parametrize(
    "name,data,stage",
    [
        ("empty.pt", b"", "empty"),
        ("noise.pt", bytes(range(256)) * 8, "format"),
        ("huge-header.safetensors", struct.pack("<Q", 2**62) + b"{}", "limits"),
    ],
)
def test_bad_files_get_a_clear_message(lab_client, name, data, stage):
    r = upload_api(lab_client, name, data)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == stage and r.json()["detail"]
    html = upload_html(lab_client, name, data)
    assert html.status_code == 200 and f'data-stage="{stage}"' in html.text and "verdict-unknown" in html.text
    assert not uploads_left(lab_client)


def test_not_a_checkpoint_whatever_its_name_and_no_file(lab_client):
    r = upload_api(lab_client, "notes.txt", b"hello")
    assert r.status_code == 422 and r.json()["code"] == "format"  # the bytes decide, not the name
    html = upload_html(lab_client, "../../etc/passwd", b"hello")
    assert html.status_code == 200 and 'data-stage="format"' in html.text and "passwd" in html.text
    r = lab_client.post("/api/checkpoint-inspector/reports", files={"other": ("a.pt", b"x")})
    assert r.status_code == 422 and r.json()["code"] == "no_file"
    r = lab_client.post(
        "/api/checkpoint-inspector/reports", content=b"x", headers={"content-type": "text/plain"}
    )
    assert r.status_code == 415  # the API takes only the media type it documents
    # The page's POST needs htmx's header (a cross-site form cannot send it).
    r = lab_client.post("/components/checkpoint-inspector/upload", files={"file": ("a.pt", b"x")})
    assert r.status_code == 400
    assert not uploads_left(lab_client)


def test_keys_from_a_file_stay_text(lab_client, tmp_path):
    evil_key = "<script>alert(1)</script>"
    data = torch_bytes({evil_key: torch.ones(3), "note": "<img src=x onerror=alert(2)>"}, tmp_path)
    html = upload_html(lab_client, "xss.pt", data).text
    assert evil_key not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    name_html = upload_html(lab_client, '<b onmouseover="x">.pt', data).text
    assert "<b onmouseover" not in name_html and "&lt;b onmouseover=" in name_html


def test_another_session_cannot_see_a_report(lab_client, tmp_path):
    r = upload_api(lab_client, "mine.pt", torch_bytes({"w": torch.ones(2)}, tmp_path))
    report_id = r.json()["id"]
    assert lab_client.get(f"/api/checkpoint-inspector/reports/{report_id}").status_code == 200
    assert report_id in [
        x["id"] for x in lab_client.get("/api/checkpoint-inspector/reports").json()["reports"]
    ]
    cookies = dict(lab_client.cookies)
    lab_client.cookies.clear()
    try:
        assert lab_client.get(f"/api/checkpoint-inspector/reports/{report_id}").status_code == 404
        assert lab_client.get(f"/components/checkpoint-inspector/reports/{report_id}").status_code == 404
        assert lab_client.get("/api/checkpoint-inspector/reports").json()["reports"] == []
    finally:
        lab_client.cookies.clear()
        lab_client.cookies.update(cookies)
    # Only the last few are kept.
    for i in range(6):
        upload_api(lab_client, f"f{i}.pt", torch_bytes({"w": torch.ones(1)}, tmp_path))
    assert len(lab_client.get("/api/checkpoint-inspector/reports").json()["reports"]) == 5


def test_oversized_uploads_are_refused_and_leave_nothing(tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from tests.conftest import REPO

    data_dir = tmp_path / "data"
    settings = Settings(
        data_dir=data_dir,
        tutorials_dir=REPO / "tutorials",
        secret_key="t",
        pretrained_dir=tmp_path / "pre",
        upload_max_mb=1,
    )
    big = b"\0" * (1024 * 1024 + 200_000)
    with TestClient(create_app(settings)) as client:
        client.data_dir = data_dir
        client.get("/api/session")
        # Refused on Content-Length, before the body is read.
        r = upload_api(client, "big.pt", big)
        assert r.status_code == 413 and "1 MiB" in r.json()["detail"]
        html = upload_html(client, "big.pt", big)
        assert html.status_code == 200 and "1 MiB upload limit" in html.text
        # No Content-Length (chunked): the bytes are counted while streaming, the partial file deleted.
        boundary = "xyzzy"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pt"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()

        def body():
            yield head
            for _ in range(20):
                yield b"\1" * 65536
            yield f"\r\n--{boundary}--\r\n".encode()

        r = client.post(
            "/api/checkpoint-inspector/reports",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert r.status_code == 413, r.text
        # Within the limit, the same streaming path works.
        torch.save({"w": torch.ones(4)}, tmp_path / "small.pt")
        assert upload_api(client, "small.pt", (tmp_path / "small.pt").read_bytes()).status_code == 201
        assert not uploads_left(client)


def test_a_lab_that_cannot_run_says_so_in_the_page_language(lab_client, monkeypatch):
    from app.components import labs
    from app.jobs.processes import SandboxError

    def no_time(*args, **kwargs):
        raise SandboxError("the sandbox timed out after 20 s")

    monkeypatch.setattr(labs, "call_limited", no_time)
    zh = lab_client.get(
        "/components/loading-clinic/cases/truncated_file/try", params={"fix": "mmap", "lang": "zh"}
    ).text
    assert "这个实验暂时没能运行" in zh and "timed out" not in zh
    en = lab_client.get(
        "/components/state-dict-explorer/explore", params={"model": "mlp_dropout", "lang": "en"}
    ).text
    assert "The lab could not run just now" in en


def test_a_typed_report_is_the_inspectors_own_dict(lab_client, tmp_path):
    """ReportOut.report describes the sandbox's report key by key: the answer equals the report
    the inspector makes of the same file (a state_dict, a safetensors file with metadata, a
    refused pickle, and a file that could not be inspected, read back by its id)."""
    from safetensors.torch import save as safetensors_bytes

    from app.components.checkpoint_inspector.audit_words import in_words
    from app.components.checkpoint_inspector.service import report_limits
    from app.jobs.lab_tasks import ci_inspect

    limits = report_limits(lab_client.app.state.settings)
    files = {
        "weights.pt": torch_bytes(
            {"model": torch.nn.Linear(3, 2).state_dict(), "epoch": 4, "note": None}, tmp_path
        ),
        "tied.safetensors": safetensors_bytes({"w": torch.ones(2, 2)}, metadata={"format": "pt"}),
        "evil.pt": torch_bytes({"x": Payload(tmp_path / "never")}, tmp_path),
        "noise.pt": bytes(range(256)) * 8,
    }
    for name, data in files.items():
        r = upload_api(lab_client, name, data)
        assert r.status_code in (201, 422), r.text
        answer = lab_client.get(f"/api/checkpoint-inspector/reports/{r.json()['id']}?lang=en")
        assert answer.status_code == 200, answer.text
        (tmp_path / name).write_bytes(data)
        made = json.loads(json.dumps(ci_inspect(str(tmp_path / name), name, limits)))
        # The API adds the audit's verdict and findings in words, in the request's language.
        assert answer.json()["report"] == in_words(made, "en"), name
    assert not (tmp_path / "never").exists()


def test_the_typed_answers_are_the_labs_own_dicts(lab_client):
    """The response models describe what the labs return: no key dropped, renamed or added, and
    no absent key turned into null (each answer equals the cached dict it was made from).
    Last in the file: it asks every lab question, and a test above needs one not asked yet."""
    from app.components.cache import app_cache

    asked = {
        "/api/save-load-lab/save": (("sl.save",), "save"),
        "/api/save-load-lab/inside": (("sl.save",), "inside"),
        "/api/save-load-lab/train-eval": (("sl.train_eval",), None),
        "/api/state-dict-explorer/reference": (("sd.reference",), None),
    }
    asked |= {
        f"/api/save-load-lab/refactors/{name}": (("sl.refactor", name), None) for name in REFACTOR_NAMES
    }
    asked |= {f"/api/state-dict-explorer/models/{name}": (("sd.explore", name), None) for name in MODEL_NAMES}
    asked |= {f"/api/loading-clinic/cases/{case}": (("cl.case", case), None) for case in CASE_IDS}
    cache = app_cache(lab_client.app)
    for url, (key, part) in asked.items():
        answer = lab_client.get(url)
        assert answer.status_code == 200, (url, answer.text)
        lab = cache.peek(key)
        assert answer.json() == json.loads(json.dumps(lab[part] if part else lab)), url
