"""`onecard-validator`: the reference validator from a shell (a terminal's loop, or a demo).

    export ONECARD_VALIDATOR_TOKEN=...   # a venue credential
    onecard-validator --data /var/lib/validator --url http://127.0.0.1:8000 --venue V1 --terminal T1 refresh
    onecard-validator ... tap-code '<qr>'
    onecard-validator ... tap-card C12345678 <ssn> <name> 500106
    onecard-validator ... upload
    onecard-validator ... status

Every command but `refresh` and `upload` works without the network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from .validator import Validator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="onecard-validator", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the validator's own directory")
    parser.add_argument("--url", default=os.environ.get("ONECARD_VALIDATOR_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--venue", required=True)
    parser.add_argument("--terminal", required=True)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("refresh", help="download or refresh the signed bundle")
    code = commands.add_parser("tap-code", help="decide an e-card code offline and queue the tap")
    code.add_argument("qr")
    card = commands.add_parser("tap-card", help="decide a physical card offline and queue the tap")
    for name in ("card_no", "ssn", "name", "issuer_region"):
        card.add_argument(name)
    commands.add_parser("upload", help="upload the queued taps")
    commands.add_parser("status", help="the bundle kept and the queue")
    return parser


async def _run(args: argparse.Namespace, validator: Validator) -> object:
    match args.command:
        case "refresh":
            return {"refreshed": await validator.refresh()}
        case "tap-code":
            return asdict(validator.tap_code(args.qr)) | {"nonce": None}
        case "tap-card":
            return asdict(validator.tap_card(args.card_no, args.ssn, args.name, args.issuer_region))
        case "upload":
            return asdict(await validator.upload())
    bundle = validator.bundle()
    kept = {"version": bundle.version, "expires_at": bundle.exp} if bundle else None
    return {"bundle": kept, **validator.queue.counts()}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    token = os.environ.get("ONECARD_VALIDATOR_TOKEN", "")
    validator = Validator(args.data, args.url, token, args.venue, args.terminal)
    try:
        print(json.dumps(asyncio.run(_run(args, validator)), ensure_ascii=False))
    finally:
        validator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
