"""The onecard command.

onecard up [--port 8080] [--data-dir DIR]     all five services, one process, SQLite + in-process log
onecard serve SERVICE [--port N] [--migrate] [--workers N]
                                              one service on PostgreSQL + Kafka (distributed mode)
onecard migrate [SERVICE ...]                 run Alembic migrations (distributed mode's explicit step)
onecard topics                                create the Kafka topics with partitions and retention
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import uvicorn
from onecard_events.kafka import create_topics, platform_topics
from onecard_events.rebuild import rebuild
from onecard_events.topology import SERVICES
from onecard_service.edge import EdgeHttpProtocol
from onecard_service.platform import Platform
from onecard_service.settings import Settings

from . import data_template
from .composition import PrefixDispatcher, build_services
from .workers import serve_with_workers


def _serve(app: PrefixDispatcher, settings: Settings, host: str, port: int) -> None:
    # The edge's connection limits (onecard_service/edge.py); the access log is the services' own.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        http=EdgeHttpProtocol,
        timeout_keep_alive=max(1, round(settings.idle_timeout_seconds)),
    )


def cmd_up(args: argparse.Namespace) -> None:
    overrides: dict[str, object] = {"database_url": None, "kafka_bootstrap": None}
    if args.data_dir:
        overrides["data_dir"] = Path(args.data_dir)
    settings = Settings.from_env(**overrides)
    # A fresh data directory starts as a copy of the prepared one: already migrated, seeded and
    # projected (data_template.py).
    fresh = data_template.is_fresh(settings.data_dir)
    prepared = data_template.copy_into(settings.data_dir)
    platform = Platform(settings)
    runtimes = build_services(platform)
    print(
        f"onecard: embedded platform on http://{args.host}:{args.port} (data in {platform.settings.data_dir}"
        f"{', from the prepared template' if prepared else ''})"
    )

    def ready(seconds: float) -> None:
        print(f"onecard: ready: all {len(runtimes)} services ({seconds:.1f} s after start)", flush=True)
        if fresh and not prepared:  # a restart, or a start from the template, needs no builder
            data_template.build_in_background()

    _serve(
        PrefixDispatcher(runtimes, migrate=not prepared, on_ready=ready),
        platform.settings,
        args.host,
        args.port,
    )


def cmd_serve(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    if not settings.distributed:
        raise SystemExit(
            "onecard serve needs ONECARD_DATABASE_URL (and ONECARD_KAFKA_BOOTSTRAP); use `onecard up`"
        )
    if args.workers > 1:
        serve_with_workers(args.service, args.host, args.port, args.workers, migrate=args.migrate)
        return
    platform = Platform(settings)
    runtimes = build_services(platform, [args.service])
    _serve(PrefixDispatcher(runtimes, migrate=args.migrate), settings, args.host, args.port)


def cmd_migrate(args: argparse.Namespace) -> None:
    async def run() -> None:
        platform = Platform(Settings.from_env())
        for runtime in build_services(platform, args.services or SERVICES):
            await runtime.migrate()
            print(f"migrated {runtime.name}")
        await platform.close()

    asyncio.run(run())


def cmd_rebuild(args: argparse.Namespace) -> None:
    async def run() -> None:
        platform = Platform(Settings.from_env())
        try:
            for runtime in build_services(platform, [args.service]):
                await runtime.migrate()
                if not runtime.projections:
                    print(f"{runtime.name} keeps no projections")
                for name, count in (await rebuild(runtime.projections)).items():
                    print(f"rebuilt {name}: {count} events replayed")
        finally:
            await platform.close()

    asyncio.run(run())


def cmd_topics(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    if not bootstrap:
        raise SystemExit("set ONECARD_KAFKA_BOOTSTRAP or pass --bootstrap")
    specs = platform_topics(settings.partners, partitions=args.partitions, prefix=settings.topic_prefix)
    created = asyncio.run(create_topics(bootstrap, specs, replication=args.replication))
    for spec in specs:
        print(
            f"{spec.name}\tpartitions={spec.partitions}\tretention.ms={spec.retention_ms}\t"
            f"{'created' if spec.name in created else 'exists'}"
        )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="onecard", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    host = os.environ.get("ONECARD_HOST", "127.0.0.1")

    up = sub.add_parser("up", help="run the embedded platform")
    up.add_argument("--port", type=int, default=int(os.environ.get("ONECARD_PORT", "8080")))
    up.add_argument("--host", default=host)
    up.add_argument("--data-dir")
    up.set_defaults(func=cmd_up)

    serve = sub.add_parser("serve", help="run one service (distributed mode)")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--port", type=int, default=int(os.environ.get("ONECARD_PORT", "8080")))
    serve.add_argument("--host", default=host)
    serve.add_argument("--migrate", action="store_true", help="run migrations before serving")
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("ONECARD_WORKERS", "1")),
        help="processes answering requests on the one port (more than 1: one more process runs the "
        "relay, projections and leader jobs)",
    )
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="run migrations")
    migrate.add_argument("services", nargs="*", help=f"any of {', '.join(SERVICES)} (default: all)")
    migrate.set_defaults(func=cmd_migrate)

    rebuild_ = sub.add_parser(
        "rebuild",
        help="drop a service's read models and replay them from the events "
        "(replicas wait on the projection's lock meanwhile)",
    )
    rebuild_.add_argument("service", choices=SERVICES)
    rebuild_.set_defaults(func=cmd_rebuild)

    topics = sub.add_parser("topics", help="create Kafka topics")
    topics.add_argument("--bootstrap")
    topics.add_argument("--partitions", type=int, default=6)
    topics.add_argument("--replication", type=int, default=1)
    topics.set_defaults(func=cmd_topics)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args)
