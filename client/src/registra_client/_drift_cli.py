"""``registra-drift``: the drift check on the command line.

Exit codes: 0 no drift, 1 drift found, 2 could not run (the reason on standard error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from registra_client._drift import drift, needs_zone, read_holder_file
from registra_client._errors import PermissionDeniedError, RegistraError
from registra_client._profile import ProfileError, load_profile
from registra_client._render import FORMATS, write_report
from registra_client._sync import Client
from registra_client._table import ReadError

NO_DRIFT, DRIFT, FAILED = 0, 1, 2
ENV = {
    "base_url": "REGISTRA_URL",
    "client_id": "REGISTRA_CLIENT_ID",
    "client_secret": "REGISTRA_CLIENT_SECRET",
    "timezone": "REGISTRA_TIMEZONE",
}


class _Failed(Exception):
    """The check could not run; the message says why."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="registra-drift",
        description=(
            "Compare a CMMS export with the Registra register (through API v1, with a service "
            "account that holds assets:read). Exit 0: no drift; 1: drift found; 2: could "
            "not run."
        ),
    )
    p.add_argument("export", help="the CMMS export (CSV, JSON Lines or XLSX, as the profile says)")
    p.add_argument("--profile", required=True, help="the import profile TOML mapping its columns")
    p.add_argument(
        "--base-url", help=f"the server, e.g. https://registra.example (${ENV['base_url']})"
    )
    p.add_argument("--client-id", help=f"the service account's client id (${ENV['client_id']})")
    p.add_argument(
        "--client-secret",
        help=f"its secret (${ENV['client_secret']}; prefer the variable: flags show in ps)",
    )
    p.add_argument(
        "--holders",
        help="CSV cmmsHolder,userId mapping CMMS holder ids to members (default: the "
        "members' external employee ids)",
    )
    p.add_argument(
        "--timezone",
        help="the organization's time zone, e.g. Europe/London, to read dates in "
        f"(${ENV['timezone']}; default: asked of the API, which needs organization:read)",
    )
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", "-o", help="write the report here (default: standard output)")
    p.add_argument(
        "--previous", help="the previous run's JSON report: mark findings new, open or resolved"
    )
    p.add_argument("--progress", choices=("auto", "bar", "none"), default="auto")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the drift check; the exit code."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except _Failed as exc:
        print(f"registra-drift: {exc}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        print("registra-drift: interrupted", file=sys.stderr)
        return FAILED


def _setting(args: argparse.Namespace, name: str) -> str:
    value = getattr(args, name) or os.environ.get(ENV[name], "")
    return value.strip()


def _run(args: argparse.Namespace) -> int:
    base_url, client_id = _setting(args, "base_url"), _setting(args, "client_id")
    secret = _setting(args, "client_secret")
    missing = [
        f"--{name.replace('_', '-')} (or ${ENV[name]})"
        for name, value in (
            ("base_url", base_url),
            ("client_id", client_id),
            ("client_secret", secret),
        )
        if not value
    ]
    if missing:
        raise _Failed("missing " + ", ".join(missing))
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        raise _Failed(f"the profile {args.profile} cannot be used: {exc}") from None
    except OSError as exc:
        raise _Failed(f"cannot read the profile: {exc}") from None
    holders = _holders(args.holders)
    zone = _zone(_setting(args, "timezone"))
    previous = _previous(args.previous)
    with ExitStack() as stack:
        client = stack.enter_context(Client(base_url, client_id, secret))
        progress = stack.enter_context(_Progress(args.progress))
        try:
            report = drift(
                client,
                args.export,
                profile,
                holders=holders,
                zone=zone,
                previous=previous,
                progress=progress,
                base_url=base_url,
            )
        except PermissionDeniedError as exc:
            if zone is None and needs_zone(profile) and "organization:read" in exc.message:
                raise _Failed(
                    "the profile compares dates, read in the organization's time zone: give "
                    f"--timezone (or ${ENV['timezone']}), or use a service account that also "
                    "holds organization:read"
                ) from None
            raise _Failed(f"the API refused: {exc}") from None
        except RegistraError as exc:
            raise _Failed(f"the API call failed: {exc}") from None
        except (ProfileError, ReadError) as exc:
            raise _Failed(f"the export {args.export} cannot be read: {exc}") from None
        except OSError as exc:
            raise _Failed(f"cannot read the export: {exc}") from None
        progress.close()
        out = _output(stack, args.output)
        color = args.color == "always" or (args.color == "auto" and out.isatty())
        try:
            write_report(report, args.format, out, color=color and args.format == "table")
            out.flush()
        except BrokenPipeError:
            _reader_gone()  # ``| head``: the check ran; its exit code stands
    return DRIFT if report.drift else NO_DRIFT


def _reader_gone() -> None:
    """Standard output's reader has gone: nothing more is written there, and the flush at exit
    finds nothing to fail on (no traceback for ``registra-drift ... | head``)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _holders(path: str | None) -> dict[str, str] | None:
    if not path:
        return None
    try:
        return read_holder_file(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise _Failed(f"the holder mapping cannot be used: {exc}") from None


def _zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Failed(f"--timezone {name!r} is not a time zone (e.g. Europe/London)") from None


def _previous(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise _Failed(f"the previous report cannot be read: {exc}") from None
    if not isinstance(data, dict) or not str(data.get("format", "")).startswith("registra-drift/"):
        raise _Failed(f"{path} is not a registra-drift JSON report (--format json)")
    return data


def _output(stack: ExitStack, path: str | None) -> TextIO:
    if not path:
        return sys.stdout
    try:
        return stack.enter_context(open(path, "w", encoding="utf-8", newline=""))
    except OSError as exc:
        raise _Failed(f"cannot write the report: {exc}") from None


class _Progress:
    """One tqdm bar per thing pulled, on standard error (``auto``: when it is a terminal)."""

    def __init__(self, mode: str) -> None:
        self.on = mode == "bar" or (mode == "auto" and sys.stderr.isatty())
        self.bar: Any = None
        self.what = ""

    def __call__(self, what: str, n: int) -> None:
        if not self.on:
            return
        if what != self.what:
            from tqdm import tqdm

            self.close()
            self.what = what
            desc = "reading the export" if what == "export rows" else f"pulling {what}"
            self.bar = tqdm(desc=desc, unit=" records", file=sys.stderr, leave=True)
        self.bar.update(n - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
