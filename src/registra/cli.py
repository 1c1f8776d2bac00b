"""The ``registra`` operator command: thin wrappers over migrations and services.

Examples::

    registra migrate
    registra org create --slug skyline-mro --name "Skyline MRO"
    registra demo-data --org skyline-mro --assets 5000 --seed 7
    registra demo-members --org skyline-mro
    registra service-account create --org skyline-mro --name "Drift check" \
        --scopes "assets:read" --json
    registra service-account rotate --org skyline-mro --client-id svc_01HXY3M4Q8Z9V2K7T5R6W1N0PA
    registra service-account disable --org skyline-mro --client-id svc_01HXY3M4Q8Z9V2K7T5R6W1N0PA
    registra service-account delete --org skyline-mro --client-id svc_01HX...  # dry run
    registra service-account delete --org skyline-mro --client-id svc_01HX... --apply
    registra member invite --org skyline-mro --email lena.hart@example.com --role editor \
        --name "Lena Hart"                # prints the link and emails it
    registra serve --host 127.0.0.1 --port 8000 --workers 2 --threads 4
    registra audit verify --org skyline-mro
    registra audit checkpoint --org skyline-mro > skyline-mro-checkpoint.json
    registra audit verify --org skyline-mro --checkpoint skyline-mro-checkpoint.json
    registra tokens purge-expired            # dry run: counts, deletes nothing
    registra tokens purge-expired --org skyline-mro --apply
    registra import run --org skyline-mro --profile "AMOS nightly" export.csv [--apply] [--json]
    registra import profile export --org skyline-mro --profile "AMOS nightly" > amos.toml
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from registra import cli_import

OPERATOR_REASON = "Operator command line: registra {}"


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registra.settings")
    import django

    django.setup()


def _actor(command: str, organization: Any = None) -> Any:
    """The operator system job (decision record 0004), bound to ``organization`` if given."""
    from registra.organizations.policy import actor_for_system_job

    return actor_for_system_job("operator", organization=organization, label=f"registra {command}")


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    print("database is up to date")
    return 0


def cmd_org_create(args: argparse.Namespace) -> int:
    from registra.organizations import services

    org = services.organization_create(
        actor=_actor("org create"),
        reason=OPERATOR_REASON.format("org create"),
        slug=args.slug,
        name=args.name,
        timezone=args.timezone,
        locale=args.locale,
    )
    print(f"created organization {org.slug} ({org.id})")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from registra.demo.loader import load_demo

    summary = load_demo(org_slug=args.org, assets=args.assets, seed=args.seed, progress=print)
    print(summary)
    return 0


def cmd_demo_members(args: argparse.Namespace) -> int:
    from registra.demo.members import demo_sign_ins

    sign_ins = demo_sign_ins(args.org)
    if args.json:
        print(orjson.dumps([vars(s) for s in sign_ins]).decode())
        return 0
    for s in sign_ins:
        print(f"  {s.role:<7} {s.email:<40} password: {s.password}   ({s.full_name})")
    return 0


def cmd_service_account_create(args: argparse.Namespace) -> int:
    from registra.core.errors import field_error
    from registra.core.timefmt import parse_timestamp
    from registra.organizations import selectors, services

    expires_at = None
    if args.expires_at:
        try:
            expires_at = parse_timestamp(args.expires_at)
        except ValueError as exc:
            raise field_error("--expires-at", str(exc)) from exc
    org = selectors.organization_get_by_slug(args.org)
    issued = services.service_account_create(
        organization=org,
        actor=_actor("service-account create", org),
        reason=OPERATOR_REASON.format("service-account create"),
        name=args.name,
        scopes=args.scopes,
        contact_email=args.contact_email,
        expires_at=expires_at,
    )
    if args.json:
        out = {"clientId": issued.account.id, "clientSecret": issued.secret}
        print(orjson.dumps(out).decode())
    else:
        print(f"client id:     {issued.account.id}")
        print(f"client secret: {issued.secret}")
        print("The secret is shown only once; store it now.")
    return 0


def _service_account_reason(args: argparse.Namespace) -> str:
    return args.reason or OPERATOR_REASON.format(f"service-account {args.sa_cmd}")


def cmd_service_account_rotate(args: argparse.Namespace) -> int:
    from registra.organizations import selectors, services

    org = selectors.organization_get_by_slug(args.org)
    issued = services.service_account_rotate_secret(
        organization=org,
        actor=_actor("service-account rotate", org),
        reason=_service_account_reason(args),
        account_id=args.client_id,
    )
    if args.json:
        out = {"clientId": issued.account.id, "clientSecret": issued.secret}
        print(orjson.dumps(out).decode())
    else:
        print(f"client id:     {issued.account.id}")
        print(f"client secret: {issued.secret}")
        print("The old secret and its access tokens no longer work.")
        print("The new secret is shown only once; store it now.")
    return 0


def cmd_service_account_disable(args: argparse.Namespace) -> int:
    from registra.organizations import selectors, services

    org = selectors.organization_get_by_slug(args.org)
    account = services.service_account_disable(
        organization=org,
        actor=_actor("service-account disable", org),
        reason=_service_account_reason(args),
        account_id=args.client_id,
    )
    print(f"disabled service account {account.name} ({account.id}); its access tokens are revoked")
    return 0


def cmd_service_account_delete(args: argparse.Namespace) -> int:
    from registra.organizations import selectors, services

    org = selectors.organization_get_by_slug(args.org)
    if not args.apply:
        account = selectors.service_account_get(org, args.client_id)
        print(f"would delete service account {account.name} ({account.id}) for good")
        print("dry run: nothing was deleted; add --apply to delete it")
        return 0
    account = services.service_account_delete(
        organization=org,
        actor=_actor("service-account delete", org),
        reason=_service_account_reason(args),
        account_id=args.client_id,
    )
    print(f"deleted service account {account.name} ({account.id}); its secret and tokens are void")
    return 0


def cmd_member_invite(args: argparse.Namespace) -> int:
    from registra.organizations import mail, selectors, services

    org = selectors.organization_get_by_slug(args.org)
    invitation = services.member_invite(
        organization=org,
        actor=_actor("member invite", org),
        reason=args.reason or OPERATOR_REASON.format("member invite"),
        email=args.email,
        role=args.role,
        full_name=args.name,
        external_employee_id=args.external_id,
    )
    link = mail.invitation_link(invitation.token)
    member = invitation.member
    print(f"invited {member.email} to {org.slug} as {member.role} ({member.id})")
    print(f"invitation link (works once, until {member.invitation_expires_at:%Y-%m-%d %H:%M} UTC):")
    print(link)
    if link.startswith("/"):
        print("set REGISTRA_BASE_URL to print and email a full link", file=sys.stderr)
    try:
        mail.send_invitation(
            organization=org, member=member, link=link, invited_by="The Registra operator"
        )
    except OSError as exc:
        print(
            f"registra: warning: the email was not sent ({exc}); pass on the link", file=sys.stderr
        )
    else:
        print(f"emailed the link to {member.email}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from registra.core.audit import verify_chain
    from registra.core.checkpoints import checkpoint_load, verify_with_checkpoint
    from registra.organizations import selectors

    org = selectors.organization_get_by_slug(args.org)
    if args.checkpoint is None:
        report, held = verify_chain(org.id), ""
    else:
        checkpoint = checkpoint_load(Path(args.checkpoint))
        report = verify_with_checkpoint(org.id, checkpoint)
        held = f"; it holds the checkpoint at sequence {checkpoint.seq} of {checkpoint.created_at}"
    if report.ok:
        print(f"audit chain of {org.slug} is intact: {report.checked} events verified{held}")
        return 0
    print(f"audit chain of {org.slug} is BROKEN: {report.problem}", file=sys.stderr)
    return 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    from registra.core.checkpoints import ChainBroken, checkpoint_create
    from registra.organizations import selectors

    org = selectors.organization_get_by_slug(args.org)
    try:
        checkpoint = checkpoint_create(organization_id=org.id, organization_slug=org.slug)
    except ChainBroken as exc:
        print(f"audit chain of {org.slug} is BROKEN, no checkpoint signed: {exc}", file=sys.stderr)
        return 1
    print(checkpoint.to_json())
    return 0


def cmd_tokens_purge_expired(args: argparse.Namespace) -> int:
    from registra.organizations import selectors, services

    orgs = [selectors.organization_get_by_slug(args.org)] if args.org else None
    for org in orgs or selectors.organization_list():
        count = services.access_token_purge_expired(
            organization=org,
            actor=_actor("tokens purge-expired", org),
            reason=OPERATOR_REASON.format("tokens purge-expired"),
            apply=args.apply,
        )
        done = "deleted" if args.apply else "to delete"
        print(f"{org.slug}: {count} expired access tokens {done}")
    if not args.apply:
        print("dry run: nothing was deleted; add --apply to delete them")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from django.core.exceptions import ImproperlyConfigured

    from registra.server import check_threads, serve

    try:
        check_threads(args.threads)
    except ImproperlyConfigured as exc:
        print(f"registra: error: {exc}", file=sys.stderr)
        return 2
    serve(host=args.host, port=args.port, workers=args.workers, threads=args.threads)
    return 0


# --- worker (issue 9) ---
WORKER_EXAMPLES = """examples:
  registra worker                          # runs until stopped (SIGTERM finishes the task first)
  registra worker --worker-id "$(hostname)-1"
  registra worker --batch                  # run what is due, then exit (e.g. from cron)

Several workers may run at once, on one host or several: each task is taken by one of them."""


def cmd_worker(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    from registra.imports import schedule, services

    queued = schedule.ensure_enqueued()
    if queued:
        print(f"queued {queued} nightly imports that had no task waiting")
    requeued = services.requeue_waiting()
    if requeued:
        print(f"queued {requeued} web imports again whose worker had stopped")
    options: dict[str, Any] = {"batch": args.batch, "reload": False}
    if args.worker_id:
        options["worker_id"] = args.worker_id
    if args.batch:
        options["startup_delay"] = False  # nothing to spread out: it exits when done
    call_command("db_worker", verbosity=2 if args.verbose else 1, **options)
    return 0


def _add_worker_parser(sub: Any) -> None:
    worker = sub.add_parser(
        "worker",
        help="run nightly imports and the web's uploads and applies (the background worker)",
        epilog=WORKER_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument("--batch", action="store_true", help="exit when no task is due")
    worker.add_argument(
        "--worker-id",
        type=_worker_id,
        default=None,
        help="this worker's name in the task records, unique among the workers (default: random)",
    )
    worker.set_defaults(func=cmd_worker)


def _worker_id(raw: str) -> str:
    if not 1 <= len(raw) <= 64:
        raise argparse.ArgumentTypeError("must be 1-64 characters")
    return raw


# --- end of worker (issue 9) ---


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="registra",
        description="Registra operator commands.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--verbose", action="store_true", help="more output")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(
        func=cmd_migrate
    )

    org = sub.add_parser("org", help="organizations").add_subparsers(dest="org_cmd", required=True)
    oc = org.add_parser("create", help="create an organization")
    oc.add_argument("--slug", required=True, help="1-63 chars a-z 0-9 -, e.g. skyline-mro")
    oc.add_argument("--name", required=True)
    oc.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    oc.add_argument("--locale", default="en-US")
    oc.set_defaults(func=cmd_org_create)

    demo = sub.add_parser("demo-data", help="load a realistic aviation-maintenance register")
    demo.add_argument("--org", required=True, help="organization slug (created if missing)")
    demo.add_argument("--assets", type=_positive_int, default=2000, help="number of assets")
    demo.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    demo.set_defaults(func=cmd_demo_data)

    dm = sub.add_parser(
        "demo-members",
        help="fresh passwords for a demo admin, editor, auditor and viewer (printed once)",
    )
    dm.add_argument("--org", required=True, help="organization slug (with the demo crew loaded)")
    dm.add_argument("--json", action="store_true", help="print [{email, role, password, ...}]")
    dm.set_defaults(func=cmd_demo_members)

    sa = sub.add_parser("service-account", help="API service accounts").add_subparsers(
        dest="sa_cmd", required=True
    )
    sac = sa.add_parser("create", help="create a service account; prints its secret once")
    sac.add_argument("--org", required=True)
    sac.add_argument("--name", required=True)
    sac.add_argument("--scopes", required=True, help='e.g. "assets:read organization:read"')
    sac.add_argument("--contact-email", default="")
    sac.add_argument("--expires-at", default=None, help="ISO 8601 timestamp")
    sac.add_argument("--json", action="store_true", help="print {clientId, clientSecret}")
    sac.set_defaults(func=cmd_service_account_create)
    for name, func, help_text in (
        ("rotate", cmd_service_account_rotate, "new secret (printed once); the old one dies"),
        ("disable", cmd_service_account_disable, "disable; its access tokens die at once"),
        ("delete", cmd_service_account_delete, "delete for good (a dry run unless --apply)"),
    ):
        sub_cmd = sa.add_parser(name, help=help_text)
        sub_cmd.add_argument("--org", required=True, help="organization slug")
        sub_cmd.add_argument("--client-id", required=True, help="the account's id, svc_...")
        sub_cmd.add_argument("--reason", default="", help="for the audit log (10-1000 chars)")
        sub_cmd.set_defaults(func=func)
        if name == "rotate":
            sub_cmd.add_argument(
                "--json", action="store_true", help="print {clientId, clientSecret}"
            )
        if name == "delete":
            sub_cmd.add_argument("--apply", action="store_true", help="really delete it")

    mem = sub.add_parser("member", help="members").add_subparsers(dest="member_cmd", required=True)
    mi = mem.add_parser(
        "invite", help="invite a person by email and role; prints the one-time link and emails it"
    )
    mi.add_argument("--org", required=True, help="organization slug")
    mi.add_argument("--email", required=True)
    mi.add_argument("--role", required=True, help="admin, editor, auditor or viewer")
    mi.add_argument("--name", default="", help="the person's full name (they can change it)")
    mi.add_argument("--external-id", default="", help="their employee id in the CMMS")
    mi.add_argument("--reason", default="", help="for the audit log (10-1000 chars)")
    mi.set_defaults(func=cmd_member_invite)

    serve = sub.add_parser("serve", help="run the production HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8000)
    serve.add_argument("--workers", type=_positive_int, default=1, help="processes (default 1)")
    serve.add_argument(
        "--threads",
        type=_positive_int,
        default=4,
        help="request threads per process (default 4; at most REGISTRA_DB_POOL_SIZE)",
    )
    serve.set_defaults(func=cmd_serve)

    aud = sub.add_parser("audit", help="audit log").add_subparsers(dest="audit_cmd", required=True)
    av = aud.add_parser(
        "verify",
        help="verify an organization's audit chain; exit 0 intact, 1 broken, 2 unusable input",
    )
    av.add_argument("--org", required=True)
    av.add_argument(
        "--checkpoint",
        metavar="FILE",
        default=None,
        help="a file from `audit checkpoint`: also prove the chain still holds it",
    )
    av.set_defaults(func=cmd_audit_verify)
    ac = aud.add_parser(
        "checkpoint", help="print a signed checkpoint of the chain's head (JSON) to keep elsewhere"
    )
    ac.add_argument("--org", required=True)
    ac.set_defaults(func=cmd_audit_checkpoint)

    tok = sub.add_parser("tokens", help="API access tokens").add_subparsers(
        dest="tokens_cmd", required=True
    )
    tp = tok.add_parser(
        "purge-expired", help="delete expired access tokens (a dry run unless --apply)"
    )
    tp.add_argument("--org", default=None, help="one organization (default: each in turn)")
    tp.add_argument("--apply", action="store_true", help="really delete; without it, only count")
    tp.set_defaults(func=cmd_tokens_purge_expired)

    cli_import.add_parser(sub)
    _add_worker_parser(sub)  # --- worker (issue 9) ---
    return p


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(raw: str) -> int:
    value = _positive_int(raw)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1-65535, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup()
    from registra.core.errors import RegistraError

    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except RegistraError as exc:
        print(f"registra: error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
