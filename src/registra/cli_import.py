"""``registra import``: the CMMS import for operators (thin wrappers over the import services).

Examples::

    registra import run --org skyline-mro --profile "AMOS nightly" export.csv        # preview
    registra import run --org skyline-mro --profile "AMOS nightly" export.csv --apply
    registra import run --org skyline-mro --profile "AMOS nightly" export.csv --json
    registra import profile export --org skyline-mro --profile "AMOS nightly" > amos.toml
    registra import profile import --org skyline-mro amos.toml [--replace]
    registra import purge-plans --older-than-days 90 [--org skyline-mro] --apply

``import run`` exits 0 when the plan was applied or previewed within the profile's error
threshold, 1 when its row errors exceed the threshold (nothing applied: the plan waits on its
run page), and 2 when it could not run (unreadable file or profile, stale plan, refusal).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from pathlib import Path
from typing import Any

import orjson

SHOWN_ERRORS = 20
LABELS = (
    ("create", "to create"),
    ("update", "to update"),
    ("status", "status changes"),
    ("unchanged", "unchanged"),
    ("handoff", "custody handoffs"),
    ("assessment", "new calibrations"),
    ("absent", "absent from the file"),
    ("conflict", "ownership conflicts"),
    ("error", "row errors"),
)


def add_parser(sub: Any) -> None:
    """Add ``import run`` and ``import profile export|import`` to the ``registra`` parser."""
    imp = sub.add_parser("import", help="the CMMS import: runs and profiles")
    cmds = imp.add_subparsers(dest="import_cmd", required=True)
    run = cmds.add_parser(
        "run",
        help="plan a CMMS export against the register (a preview unless --apply)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--org", required=True, help="organization slug")
    run.add_argument("--profile", required=True, help="the import profile's name")
    run.add_argument("file", help="the CMMS export (CSV, JSON Lines or XLSX, as the profile says)")
    run.add_argument(
        "--apply",
        action="store_true",
        help="apply the plan when its row errors are within the profile's threshold",
    )
    run.add_argument("--json", action="store_true", help="print the run as JSON")
    run.add_argument(
        "--progress",
        choices=("auto", "bar", "lines", "none"),
        default="auto",
        help="progress on standard error: a bar for big files on a terminal (auto), always a "
        "bar, one line per step, or none",
    )
    run.add_argument("--reason", default="", help="for the audit log (10-1000 chars)")
    run.set_defaults(func=cmd_import_run)

    purge = cmds.add_parser(
        "purge-plans",
        help="delete the plan items of ended runs older than N days (a dry run unless --apply)",
    )
    purge.add_argument(
        "--older-than-days",
        type=int,
        required=True,
        help="runs created more than this many days ago (at least 1)",
    )
    purge.add_argument("--org", default=None, help="one organization (default: each in turn)")
    purge.add_argument("--apply", action="store_true", help="really delete; without it, count")
    purge.set_defaults(func=cmd_purge_plans)

    prof = cmds.add_parser("profile", help="import profiles as TOML files").add_subparsers(
        dest="profile_cmd", required=True
    )
    exp = prof.add_parser("export", help="print a profile as TOML")
    exp.add_argument("--org", required=True)
    exp.add_argument("--profile", required=True, help="the profile's name")
    exp.set_defaults(func=cmd_profile_export)
    imp_file = prof.add_parser("import", help="create a profile from a TOML file")
    imp_file.add_argument("--org", required=True)
    imp_file.add_argument("file", help="the profile file (TOML)")
    imp_file.add_argument(
        "--replace", action="store_true", help="replace the profile of that name if it exists"
    )
    imp_file.add_argument("--reason", default="", help="for the audit log (10-1000 chars)")
    imp_file.set_defaults(func=cmd_profile_import)


def _operator(command: str, organization: Any) -> Any:
    from registra.cli import _actor  # the one operator actor of the command line

    return _actor(command, organization)


def _operator_reason(command: str) -> str:
    from registra.cli import OPERATOR_REASON

    return OPERATOR_REASON.format(command)


def cmd_import_run(args: argparse.Namespace) -> int:
    from registra.imports import selectors
    from registra.imports.services import ImportFailed, SourceFile, import_run_start
    from registra.organizations import selectors as org_selectors

    path = Path(args.file)
    if not path.is_file():
        print(f"registra: error: file: {args.file} is not a readable file", file=sys.stderr)
        return 2
    org = org_selectors.organization_get_by_slug(args.org)
    profile = selectors.profile_get_by_name(org, args.profile)
    with _progress_bar(path, args.progress) as progress:
        try:
            run = import_run_start(
                organization=org,
                actor=_operator("import run", org),
                reason=args.reason or _operator_reason(f"import run {path.name}"),
                profile_id=profile.id,
                source=SourceFile(path=path, name=path.name),
                trigger="cli",
                apply="auto" if args.apply else "no",
                progress=progress,
            )
        except ImportFailed as exc:
            _report(org, exc.run, args)
            return 2
    return _report(org, run, args)


def _report(org: Any, run: Any, args: argparse.Namespace) -> int:
    from registra.imports import selectors

    threshold = int(run.definition.get("error_threshold", 0))
    over = run.rows_with_errors > threshold
    # Closed once the first few are read: a PostgreSQL stream holds its connection till then.
    with contextlib.closing(selectors.error_report_rows(org, run)) as rows:
        errors = [
            {"line": line, "assetKey": key, "column": column, "value": value, "reason": reason}
            for line, key, column, value, reason in itertools.islice(rows, SHOWN_ERRORS)
        ]
    if args.json:
        print(orjson.dumps(_as_json(run, threshold, errors), option=orjson.OPT_INDENT_2).decode())
    else:
        _print_text(run, threshold, over, errors)
    if run.status in ("failed", "refused"):
        return 2
    return 1 if over else 0


def _as_json(run: Any, threshold: int, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runId": run.id,
        "status": run.status,
        "profile": run.profile_name,
        "fileName": run.file_name,
        "fileSha256": run.file_sha256,
        "rowsRead": run.rows_read,
        "rowsBlank": run.rows_blank,
        "rowsWithErrors": run.rows_with_errors,
        "errorThreshold": threshold,
        "counts": {kind: run.counts.get(kind, 0) for kind, _ in LABELS},
        "notes": run.notes,
        "message": run.message or None,
        "planSeconds": run.plan_seconds,
        "applySeconds": run.apply_seconds,
        "errors": errors,
    }


def _print_text(run: Any, threshold: int, over: bool, errors: list[dict[str, Any]]) -> None:
    print(
        f"run {run.id} of profile {run.profile_name!r} on {run.file_name}: {run.rows_read} rows"
        f" ({run.rows_blank} blank skipped), sha256 {run.file_sha256 or '-'}"
    )
    for note in run.notes:
        print(f"  {note}")
    if run.counts:
        print("  plan: " + ", ".join(f"{run.counts.get(k, 0)} {label}" for k, label in LABELS))
    for e in errors:
        print(f"  line {e['line']}, {e['column'] or 'row'} {e['value']!r}: {e['reason']}")
    if run.rows_with_errors > len(errors):
        print(f"  ... {run.rows_with_errors} rows with errors in all; see the run's error report")
    if run.status == "applied":
        print(f"applied in {run.apply_seconds} s (planned in {run.plan_seconds} s)")
    elif run.status == "planned" and over:
        print(
            f"not applied: {run.rows_with_errors} rows with errors, more than the profile's "
            f"threshold of {threshold}; the plan waits for review on the run's page"
        )
    elif run.status == "planned":
        print("preview: nothing was changed; run again with --apply, or apply on the run's page")
    else:
        print(f"{run.status}: {run.message}", file=sys.stderr)


class _progress_bar:
    """Progress on standard error: a tqdm bar per phase (planning in bytes, applying in plan
    items) for files over 10 MB on a terminal, or, with ``--progress lines``, one line per
    step (``planning 2000000/9000000``) for scripts that watch a run."""

    def __init__(self, path: Path, mode: str) -> None:
        big = path.stat().st_size >= 10_000_000 and sys.stderr.isatty()
        self.mode = "bar" if mode == "auto" and big else mode
        self.bars: dict[str, Any] = {}

    def __enter__(self) -> Any:
        return self.update if self.mode in ("bar", "lines") else None

    def update(self, phase: str, done: int, total: int | None) -> None:
        if self.mode == "lines":
            print(f"{phase} {done}/{total if total is not None else '?'}", file=sys.stderr)
            sys.stderr.flush()
            return
        from tqdm import tqdm

        bar = self.bars.get(phase)
        if bar is None:
            for other in self.bars.values():
                other.close()
            scale = phase == "planning"
            bar = self.bars[phase] = tqdm(
                total=total, unit="B" if scale else " items", unit_scale=scale, desc=phase
            )
        bar.update(done - bar.n)

    def __exit__(self, *exc: object) -> None:
        for bar in self.bars.values():
            bar.close()


def cmd_purge_plans(args: argparse.Namespace) -> int:
    from registra.core.errors import ValidationFailed
    from registra.imports.services import import_plans_purge
    from registra.organizations import selectors as org_selectors

    days = args.older_than_days
    orgs = [org_selectors.organization_get_by_slug(args.org)] if args.org else None
    for org in orgs or org_selectors.organization_list():
        try:
            purged = import_plans_purge(
                organization=org,
                actor=_operator("import purge-plans", org),
                reason=_operator_reason("import purge-plans"),
                older_than_days=days,
                apply=args.apply,
            )
        except ValidationFailed as exc:  # the one field is the flag's
            message = exc.issues[0]["message"] if exc.issues else exc.message
            print(f"registra: error: --older-than-days: {message}", file=sys.stderr)
            return 2
        done = "deleted" if args.apply else "to delete"
        items = sum(p.items for p in purged)
        runs = f"{len(purged)} run{'' if len(purged) == 1 else 's'}"
        age = f"{days} day{'' if days == 1 else 's'}"
        print(f"{org.slug}: {runs} older than {age}, {items} plan items {done}")
    if not args.apply:
        print("dry run: nothing was deleted; add --apply to delete them")
    return 0


def cmd_profile_export(args: argparse.Namespace) -> int:
    from registra.imports import selectors
    from registra.organizations import selectors as org_selectors
    from registra_client import dump_profile, profile_from_dict

    org = org_selectors.organization_get_by_slug(args.org)
    profile = selectors.profile_get_by_name(org, args.profile)
    sys.stdout.write(dump_profile(profile_from_dict(profile.definition)))
    return 0


def cmd_profile_import(args: argparse.Namespace) -> int:
    from registra.core.errors import NotFound
    from registra.imports import selectors, services
    from registra.organizations import selectors as org_selectors
    from registra_client import ProfileError, loads_profile, profile_to_dict

    try:
        text = Path(args.file).read_text(encoding="utf-8")
        definition = profile_to_dict(loads_profile(text))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"registra: error: file: {exc}", file=sys.stderr)
        return 2
    except ProfileError as exc:
        print(f"registra: error: {args.file} is not a valid profile: {exc}", file=sys.stderr)
        return 2
    org = org_selectors.organization_get_by_slug(args.org)
    actor = _operator("import profile import", org)
    reason = args.reason or _operator_reason(f"import profile import {Path(args.file).name}")
    try:
        existing = selectors.profile_get_by_name(org, definition["name"])
    except NotFound:
        existing = None
    if existing is not None and not args.replace:
        print(
            f"registra: error: a profile named {definition['name']!r} exists; "
            "add --replace to replace it",
            file=sys.stderr,
        )
        return 2
    if existing is not None:
        profile = services.import_profile_update(
            organization=org,
            actor=actor,
            reason=reason,
            profile_id=existing.id,
            definition=definition,
        )
        print(f"replaced profile {profile.name!r} ({profile.id}) in {org.slug}")
    else:
        profile = services.import_profile_create(
            organization=org, actor=actor, reason=reason, definition=definition
        )
        print(f"created profile {profile.name!r} ({profile.id}) in {org.slug}")
    return 0
