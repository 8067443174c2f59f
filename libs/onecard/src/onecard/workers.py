"""`onecard serve SERVICE --workers N`: N processes answering on one port, and one for the rest.

The process started binds the listening socket once and hands it to N worker processes (spawned,
not forked: no event loop or pool is inherited); each accepts from that one socket, and the kernel
gives every connection to one of them. A worker runs the service's HTTP side and the workers its
requests feed (`add_worker(.., every_process=True)`: identity's group commit, the revocation feed).
The first process runs what must run once, off the request loops: the relay, the projections and
the leader jobs, still under their leader locks (other pods may run the same service). It restarts
a worker that dies. Everything the workers share is in PostgreSQL (the nonce tables, the idempotency
keys, the views), so a group commit in each worker stays correct (docs/adr/0015-workers.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
from multiprocessing.process import BaseProcess

import uvicorn
from onecard_events.waiting import wait_or_stop
from onecard_service.edge import EdgeHttpProtocol
from onecard_service.platform import BACKGROUND, REQUESTS, Platform, ServiceRuntime
from onecard_service.settings import Settings

from .composition import PrefixDispatcher, build_services, start_all, stop_all

log = logging.getLogger(__name__)
# The response header naming the worker process that answered (its pid).
WORKER_HEADER = "onecard-worker"
STOP_GRACE_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1


def serve_with_workers(service: str, host: str, port: int, workers: int, *, migrate: bool) -> None:
    listening = socket.create_server((host, port), backlog=4096)
    try:
        asyncio.run(_run(service, listening, workers, migrate))
    finally:
        listening.close()


def _runtimes(service: str, role: str) -> list[ServiceRuntime]:
    runtimes = build_services(Platform(Settings.from_env()), [service])
    for runtime in runtimes:
        runtime.role = role
    return runtimes


async def _run(service: str, listening: socket.socket, workers: int, migrate: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtimes = _runtimes(service, BACKGROUND)
    await start_all(runtimes, migrate=migrate)
    # Answer only once the views are current, as one process would (a standby's are at once).
    while not stop.is_set() and any(r.views_behind() for r in runtimes):
        await wait_or_stop(stop, 0.1)
    spawning = multiprocessing.get_context("spawn")

    def spawn(index: int) -> BaseProcess:
        process = spawning.Process(
            target=serve_requests, args=(service, listening), name=f"onecard-{service}-{index}"
        )
        process.start()
        return process

    processes = [spawn(i) for i in range(workers)]
    log.info("%s: %d workers on %s", service, workers, listening.getsockname())
    try:
        while not stop.is_set():
            await wait_or_stop(stop, 1.0)
            for i, process in enumerate(processes):
                if not stop.is_set() and not process.is_alive():
                    log.warning("%s worker %d exited (%s); starting another", service, i, process.exitcode)
                    processes[i] = spawn(i)
    finally:
        for process in processes:
            process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        await asyncio.to_thread(_reap, processes)
        await stop_all(runtimes)


def _reap(processes: list[BaseProcess]) -> None:
    for process in processes:
        process.join(STOP_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()


def serve_requests(service: str, listening: socket.socket) -> None:
    """One worker: the service's HTTP side on the inherited socket, until SIGTERM."""
    _die_with_parent()
    runtimes = _runtimes(service, REQUESTS)
    config = uvicorn.Config(
        PrefixDispatcher(runtimes, migrate=False),
        log_config=None,
        access_log=False,
        lifespan="on",
        headers=[(WORKER_HEADER, str(os.getpid()))],
        # The same edge as a single process (onecard_service/edge.py): limits before the body.
        http=EdgeHttpProtocol,
        timeout_keep_alive=max(1, round(runtimes[0].platform.settings.idle_timeout_seconds)),
    )
    uvicorn.Server(config).run(sockets=[listening])


def _die_with_parent() -> None:
    """A worker whose first process is gone (even SIGKILLed) gets SIGTERM: no orphan keeps the port."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
