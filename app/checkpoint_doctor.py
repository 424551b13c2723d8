"""Will my checkpoint resume? The CheckpointInspector's audit as a command, offline.

    python -m app.checkpoint_doctor FILE_OR_FOLDER [--json] [--lang en|zh]

Exit status: 0 the checkpoint resumes exactly, 1 a finding (something missing or
inconsistent), 2 the file could not be read (missing, not a checkpoint, refused by
weights_only=True). The file is read as the server reads an upload: in a throwaway process with
the same memory and time limits (INSPECT_MEMORY_MB, INSPECT_TIMEOUT_S), weights_only=True only,
and above UPLOAD_MAX_MB only its header.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from app import i18n
from app.components.checkpoint_inspector import audit_words
from app.components.checkpoint_inspector.service import REPORT_BYTES
from app.settings import Settings

EXIT_EXACT, EXIT_FINDING, EXIT_UNREADABLE = 0, 1, 2


def _inspect_path(path: str, limits: dict) -> dict:
    """Runs in the sandbox: one file, or every file of a folder."""
    from app.ml.labs import checkpoint_folder
    from app.ml.labs.inspector import DEFAULT_LIMITS, inspect_file

    if os.path.isdir(path):
        audit = checkpoint_folder.audit_folder(path, {**DEFAULT_LIMITS, **limits})
        return {
            "ok": True,
            "filename": os.path.basename(os.path.abspath(path)),
            "kind": audit["kind"],
            "audit": audit,
        }
    return inspect_file(path, os.path.basename(path), limits)


def run(path: str, settings: Settings) -> dict:
    from app.jobs.processes import SandboxError, SandboxFailure, call_in_sandbox

    limits = {
        "max_file_bytes": settings.upload_max_mb * 1024 * 1024,
        "report_bytes": REPORT_BYTES,
    }
    try:
        return call_in_sandbox(
            _inspect_path,
            os.path.abspath(path),
            limits,
            timeout=settings.inspect_timeout_s,
            memory_mb=settings.inspect_memory_mb,
        )
    except (SandboxError, SandboxFailure) as exc:
        return {"ok": False, "filename": os.path.basename(path), "stage": "sandbox", "error": str(exc)}


def exit_status(report: dict) -> int:
    audit = report.get("audit")
    verdict = report.get("verdict") or {}
    refused = verdict.get("safe") is False and not verdict.get("allowlist")
    if not audit or not report.get("ok") or refused:  # weights_only=True would not load it either
        return EXIT_UNREADABLE
    return audit_words.VERDICT_EXIT[audit["verdict"]]


def as_text(report: dict, lang: str) -> str:
    t = lambda key: i18n.t(lang, key)  # noqa: E731
    audit = report.get("audit")
    lines = [f"{report.get('filename', '')}"]
    if not audit:
        lines.append(f"  {report.get('stage') or 'error'}: {report.get('error') or ''}".rstrip())
        reason = (report.get("verdict") or {}).get("reason")
        if reason:
            lines.append("  " + reason.splitlines()[0])
        return "\n".join(lines)
    lines.append(f"  {audit_words.headline(audit, lang)}")
    reason = (report.get("verdict") or {}).get("reason")
    if reason and not (report.get("verdict") or {}).get("allowlist"):
        said = [
            line for line in reason.splitlines() if "WeightsUnpickler" in line or "global" in line.lower()
        ]
        lines.append("  " + (said or reason.strip().splitlines())[0].strip()[:300])
    colon = "：" if lang == "zh" else ": "
    lines.append(f"  {t('ca.kind')}{colon}{audit_words.kind_text(audit['kind'], lang)}")
    if report.get("reading") == "header":
        lines.append("  " + t("ca.header_only"))
    allow = (report.get("verdict") or {}).get("allowlist")
    if allow:
        keys = ", ".join(report["verdict"].get("numpy_keys") or [])
        lines.append("  " + t("ca.allowlist").format(keys=keys))
        lines.append(f"    torch.serialization.safe_globals([{', '.join(allow)}])")
    for f in audit["findings"]:
        mark = {"blocks": "✗", "if": "?", "info": "·"}[f["level"]]
        where = f" ({t('ca.section').format(section=f['section'])})" if f.get("section") else ""
        lines.append(f"  {mark} {audit_words.finding_text(f, lang)}{where}")
    if audit["pieces"]:
        lines.append(f"  {t('ca.pieces')}:")
    for p in audit["pieces"]:
        where = p["where"] if p["where"] else t("ca.missing")
        lines.append(f"    {t('ca.piece.' + p['piece'])}: {where}")
    if audit.get("files"):
        lines.append(f"  {t('ca.files')}:")
    for f in audit.get("files") or []:
        lines.append(f"    {f['name']}: {audit_words.kind_text(f['kind'], lang)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.checkpoint_doctor",
        description="Will this checkpoint resume training exactly? Exit 0: yes; 1: a finding; 2: unreadable.",
    )
    parser.add_argument("path", help="a checkpoint file, or a checkpoint folder (HF Trainer, Accelerate)")
    parser.add_argument("--json", action="store_true", help="the whole report as JSON")
    parser.add_argument("--lang", choices=("en", "zh"), default="en")
    args = parser.parse_args(argv)
    if not os.path.exists(args.path):
        print(f"{args.path}: no such file or folder", file=sys.stderr)
        return EXIT_UNREADABLE
    i18n.add(audit_words.STRINGS, "checkpoint_doctor")  # the inspector's words, without the web app
    report = audit_words.in_words(run(args.path, Settings()), args.lang)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1, default=str))
    else:
        print(as_text(report, args.lang))
    return exit_status(report)


if __name__ == "__main__":
    sys.exit(main())
