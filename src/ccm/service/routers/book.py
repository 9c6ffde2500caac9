"""Replace the engine's book: a JSON document body, or a multipart upload (.json, or CSV/Parquet tables)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from ccm.errors import InputError
from ccm.service.deps import Admin, State
from ccm.service.schemas import BookOut
from ccm.service.state import load_upload

router = APIRouter(tags=["book"])

_BODY_DOC = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object", "description": "the book document (examples/book.json)",
                                        "properties": {"instruments": {"type": "array", "items": {"type": "object"}},
                                                       "accounts": {"type": "array", "items": {"type": "object"}}},
                                        "required": ["instruments", "accounts"]}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary", "description": "a .json or .yaml book"},
            "instruments": {"type": "string", "format": "binary"},
            "positions": {"type": "string", "format": "binary"},
            "collateral": {"type": "string", "format": "binary"}}}},
    },
}


def _document_columns(content: bytes) -> Any:
    from ccm.io.book import load_book_columns

    try:
        data = json.loads(content)
    except (UnicodeDecodeError, ValueError) as err:
        raise InputError(f"the body is not JSON: {err}", field="body") from None
    if not isinstance(data, dict):
        raise InputError("the book document must be a JSON object", field="body")
    with tempfile.TemporaryDirectory(prefix="ccm-book-") as tmp:
        path = Path(tmp) / "book.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return load_book_columns(path)


@router.put("/book", response_model=BookOut, openapi_extra={"requestBody": _BODY_DOC})
async def put_book(request: Request, state: State, _key: Admin) -> BookOut:
    """Replace the book (saved to the store; the engine restarts on it at the current market file)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=8, max_fields=16)
        files: dict[str, tuple[str, bytes]] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[name] = (value.filename or name, await value.read())
        if not files:
            raise InputError("no file in the upload", field="file",
                             hint="send a .json book or the instruments, positions and collateral tables")
        columns = await asyncio.to_thread(load_upload, files)
        label = "upload:" + ",".join(sorted(n for n, _ in files.values()))[:180]
    elif content_type in ("application/json", ""):
        columns = await asyncio.to_thread(_document_columns, await request.body())
        label = "upload:book.json"
    else:
        raise InputError(f"unsupported content type {content_type!r}", field="content-type",
                         hint="send application/json or multipart/form-data")
    accounts = await state.run(state.replace_book, columns, label)
    return BookOut(accounts=accounts, book_id=state.store.book_info().id)
