"""The hello-world baseline: one FastAPI app answering every request at once, one process (the
ceiling of a Python HTTP process on this machine, a reference beside each benchmark).

With HELLO_BODY_FILE set, a GET answers that file's bytes as JSON: the floor of serving the same
answer the project computes (bench/catalog_items.py captures the project's answer into it).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request, Response

app = FastAPI()
_CANNED = Path(os.environ["HELLO_BODY_FILE"]).read_bytes() if os.environ.get("HELLO_BODY_FILE") else None


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.get("/{path:path}")
async def get(path: str) -> Response:
    return Response(_CANNED or b'{"hello":"world"}', media_type="application/json")


@app.post("/{path:path}")
async def post(path: str, request: Request) -> dict[str, str]:
    await request.body()
    return {"hello": "world"}
