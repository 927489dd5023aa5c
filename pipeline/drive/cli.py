"""`python -m pipeline drive check | watch | unwatch | channels`.

check     what the credentials see in each DRIVE_FOLDER_IDS folder, and what is wrong
watch     open a push channel: Drive posts to --address (our /webhooks/drive) on each change
unwatch   stop the open channels (all, or --channel ID)
channels  list the channels recorded in the operational store
"""

from __future__ import annotations

import argparse
import sys

from pipeline.config import Settings, load_settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    drive = sub.add_parser("drive", help="the Google Drive lead source: check, watch, unwatch")
    verbs = drive.add_subparsers(dest="drive_command", required=True)
    check = verbs.add_parser(
        "check", help="verify the credentials and list what each watched folder holds"
    )
    check.add_argument("--show", type=int, default=50, help="files listed per folder")
    check.set_defaults(func=run_check)
    watch = verbs.add_parser(
        "watch", help="open a push channel so Drive notifies /webhooks/drive of changes"
    )
    watch.add_argument(
        "--address",
        required=True,
        help="the public HTTPS URL of the receiver's Drive endpoint, "
        "e.g. https://leads.example.com/webhooks/drive",
    )
    watch.add_argument(
        "--hours", type=float, default=24, help="how long the channel lives (renewed before)"
    )
    watch.set_defaults(func=run_watch)
    unwatch = verbs.add_parser("unwatch", help="stop the open push channels")
    unwatch.add_argument("--channel", action="append", help="only this channel id (repeatable)")
    unwatch.set_defaults(func=run_unwatch)
    channels = verbs.add_parser("channels", help="list the recorded push channels")
    channels.set_defaults(func=run_channels)


def _who() -> str:
    from pipeline.operations_cli import who

    return who()


def drive_api(settings: Settings):  # type: ignore[no-untyped-def]
    from pipeline.drive.api import DriveApi
    from pipeline.google.auth import GoogleAuth

    return DriveApi(
        GoogleAuth.from_settings(
            settings, settings.drive_oauth_token_file, "DRIVE_OAUTH_TOKEN_FILE"
        )
    )


def _needs_credentials(settings: Settings) -> str | None:
    if settings.google_application_credentials or settings.drive_oauth_token_file:
        return None
    return (
        "no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS (a service account key "
        "file) or DRIVE_OAUTH_TOKEN_FILE (an OAuth user token file)"
    )


def run_check(args: argparse.Namespace) -> int:
    from pipeline.drive.check import check_drive

    settings = load_settings()
    if problem := _needs_credentials(settings):
        print(problem, file=sys.stderr)
        return 2
    result = check_drive(drive_api(settings), settings.drive_folder_ids, show=args.show)
    if settings.lead_source != "drive" and result.ok:
        print("note: LEADS_SOURCE is not `drive`; set LEADS_SOURCE=drive to ingest from these")
    return 0 if result.ok else 1


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    from pipeline.store import open_store

    return open_store(settings.store_url)


def run_watch(args: argparse.Namespace) -> int:
    from pipeline.drive.api import DriveError
    from pipeline.drive.channels import ChannelError, open_channel
    from pipeline.google.auth import GoogleAuthError
    from pipeline.store.pause import SideEffectsPaused

    settings = load_settings()
    if problem := _needs_credentials(settings):
        print(problem, file=sys.stderr)
        return 2
    token = settings.drive_channel_token.get_secret_value() if settings.drive_channel_token else ""
    try:
        channel = open_channel(
            drive_api(settings), _store(settings), args.address, token, _who(), args.hours
        )
    except (ChannelError, SideEffectsPaused, DriveError, GoogleAuthError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"opened {channel.describe()}")
    print(
        "Drive now posts to that address on every change; the `drive_channel_renewal` "
        "schedule (under `make dev`) renews the channel before it expires."
    )
    if settings.drive_channel_ids and channel.channel_id not in settings.drive_channel_ids:
        print(
            "warning: DRIVE_CHANNEL_IDS is set and does not list this channel, so the receiver "
            "will refuse its notifications; unset DRIVE_CHANNEL_IDS (renewals open channels "
            "with new ids; DRIVE_CHANNEL_TOKEN already proves the sender)",
            file=sys.stderr,
        )
    return 0


def run_unwatch(args: argparse.Namespace) -> int:
    from pipeline.drive.api import DriveError
    from pipeline.drive.channels import open_channels, stop_channel
    from pipeline.google.auth import GoogleAuthError
    from pipeline.store.pause import SideEffectsPaused

    settings = load_settings()
    engine = _store(settings)
    channels = open_channels(engine, include_expired=True)
    if args.channel:
        unknown = set(args.channel) - {c.channel_id for c in channels}
        if unknown:
            print(f"error: no open channel {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        channels = [c for c in channels if c.channel_id in args.channel]
    if not channels:
        print("no open Drive channels")
        return 0
    api = drive_api(settings)
    for channel in channels:
        try:
            outcome = stop_channel(api, engine, channel, _who())
        except (SideEffectsPaused, DriveError, GoogleAuthError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{channel.channel_id}: {outcome}")
    return 0


def run_channels(args: argparse.Namespace) -> int:
    from pipeline.drive.channels import all_channels

    channels = all_channels(_store(load_settings()))
    for channel in channels:
        print(channel.describe())
    if not channels:
        print("no Drive channels (open one with `python -m pipeline drive watch --address ...`)")
    return 0
