"""`hall bus request ACTION key=value ...`: send one request to the queue engine, print the answer.

Meant for staff and installers poking a running hall from a shell; values are parsed as JSON
where they can be (numbers, lists, true/false) and taken as text otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from firmware_config.loader import add_site_argument
from hall_bus.contract import QUEUE_ACTIONS, ResponseStatus
from hall_bus.ids import utc_now
from hall_bus.topics import queue_endpoint


def parse_fields(pairs: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"字段格式应为 key=value / expected key=value, got {pair!r}")
        try:
            fields[key] = json.loads(raw)
        except json.JSONDecodeError:
            fields[key] = raw
    return fields


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `hall bus request`."""
    add_site_argument(parser)
    parser.add_argument("action", help="queue action, e.g. take_ticket")
    parser.add_argument("fields", nargs="*", help="request fields as key=value")
    parser.add_argument("--timeout", type=float, default=5.0)


def run_request_command(args: argparse.Namespace) -> int:
    from firmware_config.broker_accounts import CONSOLE
    from firmware_config.loader import load_site_or_exit
    from hall_bus.client import BusClient, BusConnectError, BusTimeout

    action = QUEUE_ACTIONS.get(args.action)
    if action is None:
        print(
            f"未知操作 / unknown action {args.action!r}; known: {', '.join(QUEUE_ACTIONS)}",
            file=sys.stderr,
        )
        return 2
    site = load_site_or_exit(args.site)
    try:
        fields = parse_fields(args.fields)
        request = action.request.model_validate(
            {**fields, "deadline": utc_now() + timedelta(seconds=args.timeout)}
        )
    except (ValueError, ValidationError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    client = BusClient(
        site.hall_id,
        f"cli-{request.id[-8:].lower()}",
        site.broker,
        clean_session=True,
        announce=False,
        account=CONSOLE,  # an operator's tool: the console's rights, its own client id
    )
    try:
        client.start(wait=args.timeout)
        response = client.request(
            queue_endpoint(site.hall_id), args.action, request, timeout=args.timeout
        )
    except (BusConnectError, BusTimeout) as exc:
        print(f"无应答 / no answer: {exc}", file=sys.stderr)
        return 1
    finally:
        client.stop()
    print(
        json.dumps(
            response.model_dump(mode="json", exclude_none=True), ensure_ascii=False, indent=2
        )
    )
    return 0 if response.status is ResponseStatus.OK else 1
