"""JSON API of the CheckpointInspector, under /api/checkpoint-inspector (see /docs)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from app.components.checkpoint_inspector import audit_words, service
from app.components.checkpoint_inspector.schemas import ReportList, ReportOut
from app.components.checkpoint_inspector.upload import HEAD_MAX_BYTES, TAIL_MAX_BYTES, MiB, UploadRejected
from app.deps import Lang
from app.sessions import session_id

router = APIRouter(prefix="/api/checkpoint-inspector", tags=["checkpoint inspector"])

_HEADER_ONLY = (
    "A file above UPLOAD_MAX_MB may be sent from its header only: instead of 'file', its first "
    f"bytes as 'head' (at most {HEAD_MAX_BYTES // MiB} MiB; torch's zip format puts data.pkl there, "
    f"safetensors its JSON header), its last bytes as 'tail' (at most {TAIL_MAX_BYTES // MiB} MiB: the zip's "
    "directory) and its real size in bytes as 'size'. The server rebuilds a sparse file of that size and "
    "reads its structure, keys, dtypes and shapes, pickled globals and resume audit, without tensor data; "
    "the report's 'reading' is then 'header' and 'sent' says what came."
)
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": _HEADER_ONLY,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": (
                                "a checkpoint file of any name (its bytes decide), "
                                "or a zipped checkpoint folder; at most UPLOAD_MAX_MB MiB"
                            ),
                        },
                        "size": {
                            "type": "integer",
                            "description": "header-only upload: the real size in bytes (> UPLOAD_MAX_MB MiB)",
                        },
                        "head": {
                            "type": "string",
                            "format": "binary",
                            "description": f"header-only upload: the file's first bytes, at most "
                            f"{HEAD_MAX_BYTES // MiB} MiB (its filename is the report's)",
                        },
                        "tail": {
                            "type": "string",
                            "format": "binary",
                            "description": f"header-only upload: the file's last bytes, at most "
                            f"{TAIL_MAX_BYTES // MiB} MiB",
                        },
                    },
                }
            }
        },
    },
}


@router.post(
    "/reports",
    status_code=201,
    response_model=ReportOut,
    openapi_extra=UPLOAD_BODY,
    summary=(
        "Upload a checkpoint: will it resume (verdict, findings), what it is, key tree, shapes, "
        "dtypes, statistics, zip entries, pickle globals and a safety verdict"
    ),
    responses={
        400: {"description": "not a multipart/form-data body, or a malformed one"},
        403: {"description": "a cross-site request, or no session yet (GET /api/session first)"},
        413: {
            "description": "larger than the upload limit; or a head or tail part larger than its allowance"
        },
        422: {
            "description": "not an inspectable file (empty, unknown format, truncated, …); or a header-only "
            "upload without its size, for a file within the limit, or with parts larger than the file"
        },
        429: {"description": "this browser already has uploads being inspected"},
        503: {"description": "too many inspections waiting; try again later"},
    },
)
async def upload(request: Request, lang: Lang):
    try:
        entry = await service.inspect_upload(request)
    except UploadRejected as exc:
        return JSONResponse({"detail": exc.detail, "code": exc.code}, status_code=exc.status)
    report = audit_words.in_words(entry["report"], lang)
    if not report["ok"]:
        return JSONResponse(
            {"detail": report["error"], "code": report["stage"], "id": entry["id"], "report": report},
            status_code=422,
        )
    return {"id": entry["id"], "report": report}


@router.get("/reports", response_model=ReportList, summary="This session's recent reports (the last few)")
def reports(request: Request) -> dict:
    return {"reports": service.store(request).list(session_id(request))}


@router.get("/reports/{report_id}", response_model=ReportOut, summary="One of this session's reports")
def report(request: Request, report_id: str, lang: Lang) -> dict:
    entry = service.store(request).get(session_id(request), report_id)
    if entry is None:
        raise HTTPException(404, "no such report")
    return {"id": entry["id"], "report": audit_words.in_words(entry["report"], lang)}
