"""`python -m pipeline webhooks serve | replay | dead-letters`."""

from __future__ import annotations

import argparse
import logging

from pipeline.store import open_store, redact_url
from pipeline.store.inbox import dead_letters, replay
from pipeline.webhooks.config import load_webhook_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    wh = sub.add_parser("webhooks", help="the webhook receiver and its dead letters")
    cmds = wh.add_subparsers(dest="webhooks_command", required=True)
    serve = cmds.add_parser("serve", help="run the receiver (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--access-log", action="store_true", help="log every request line")
    rp = cmds.add_parser("replay", help="put dead-lettered events back in the inbox")
    rp.add_argument("--id", type=int, action="append", dest="ids", help="inbox id (repeatable)")
    cmds.add_parser("dead-letters", help="list dead-lettered events")


def run(args: argparse.Namespace) -> int:
    config = load_webhook_config()
    if args.webhooks_command == "serve":
        import uvicorn

        from pipeline.webhooks.app import create_app

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        logging.getLogger("pipeline.webhooks").info(
            "webhooks: inbox at %s", redact_url(config.database_url)
        )
        uvicorn.run(
            create_app(config),
            host=args.host,
            port=args.port,
            access_log=args.access_log,
            log_level="info",
        )
        return 0
    engine = open_store(config.database_url)
    if args.webhooks_command == "dead-letters":
        letters = dead_letters(engine)
        for d in letters:
            print(
                f"inbox id {d['inbox_id']}: {d['source']} {d['event_type']} "
                f"after {d['attempts']} attempts at {d['dead_at']:%Y-%m-%d %H:%M}: {d['error']}"
            )
        print(f"{len(letters)} dead-lettered event(s)")
        return 0
    replayed = replay(engine, args.ids)
    if args.ids and len(replayed) < len(args.ids):
        missing = sorted(set(args.ids) - set(replayed))
        print(f"not dead-lettered (nothing to replay): {', '.join(map(str, missing))}")
    print(
        f"replayed {len(replayed)} event(s); the webhook inbox sensor dispatches them "
        "on its next tick"
    )
    return 0 if replayed or not args.ids else 1
