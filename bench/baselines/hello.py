"""The hello-world baseline: one FastAPI app answering every request at once, one process (the
ceiling of a Python HTTP process on this machine, a reference beside each benchmark)."""

from __future__ import annotations

from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/{path:path}")
async def hello(path: str, request: Request) -> dict[str, str]:
    await request.body()
    return {"hello": "world"}
