"""The policy table, applied by every public service: each service x each actor of the cast is
allowed or refused, and a refused call writes no row and no audit event.

The services come from the packages' ``__all__``: a new export that is neither a row of ``ROWS``
nor listed as a non-service makes ``test_every_exported_service_is_classified`` fail."""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from registra.assets import services as asset_services
from registra.core.audit import Actor
from registra.core.errors import Forbidden
from registra.core.timefmt import now
from registra.imports import services as import_services
from registra.imports.models import ImportRun
from registra.organizations import policy
from registra.organizations import services as org_services
from registra.organizations.models import AccessToken
from registra.organizations.policy import (
    Permission,
    actor_for_member,
    actor_for_service_account,
    actor_for_system_job,
)
from tests.cast import Cast, audit_mark, make_asset, operator
from tests.totp import code_now

REASON = "Checking who may do this"
SERVICE_PACKAGES = (org_services, asset_services, import_services)
# Exported helpers that write nothing: the audited field views of the asset records.
# Not writes: audited field views, and the rule checks an import plans with (nothing written).
NOT_SERVICES = {
    "asset_fields",
    "custody_fields",
    "assessment_fields",
    "asset_spec_problems",
    "asset_values_problems",
}
# Authenticated by a secret they are given (invitation token, client credentials), not an actor.
CREDENTIAL_SERVICES = {
    "member_accept_invitation",
    "invitation_for_token",
    "token_issue",
    # A person proving a password or a second factor, before there is an actor.
    "mfa_verify",
    "sign_in_record",
    "sign_in_failure_record",
}
# The worker's steps of a web run: no actor of their own, they act as the one recorded on the
# run, with its permissions as they are when the worker runs (tests/web/test_import_pages.py).
WORKER_STEPS = {"plan_uploaded", "apply_requested", "requeue_waiting"}

ACTORS: dict[str, Callable[[Cast], Actor]] = {
    "admin": lambda c: actor_for_member(c.admin),
    "editor": lambda c: actor_for_member(c.editor),
    "auditor": lambda c: actor_for_member(c.auditor),
    "viewer": lambda c: actor_for_member(c.viewer),
    "revoked member": lambda c: actor_for_member(c.revoked),
    "pending member": lambda c: actor_for_member(c.pending),
    "admin of the other organization": lambda c: actor_for_member(c.outsider),
    "service account with assets:read": lambda c: actor_for_service_account(c.reader.account),
    "operator job": lambda c: operator(c.org),
    "scheduled-import job": lambda c: actor_for_system_job("scheduled-import", organization=c.org),
    "operator job of the other organization": lambda c: operator(c.other_org),
    "operator job bound to no organization": lambda c: operator(),
}

# Who may, spelled out from SPEC section 2 and decision record 0004 (not read from the policy
# module, so that a wrong table fails here).
ALLOWED: dict[Permission, set[str]] = {
    Permission.WRITE_REGISTER: {"admin", "editor", "operator job", "scheduled-import job"},
    Permission.CONFIGURE_REGISTER: {"admin", "operator job"},
    Permission.RUN_IMPORT: {"admin", "editor", "operator job", "scheduled-import job"},
    Permission.MANAGE_ORGANIZATION: {"admin", "operator job"},
    # Each member for themself (decision 0014): no system job or service account.
    Permission.MANAGE_OWN_ACCOUNT: {"admin", "editor", "auditor", "viewer"},
    Permission.CREATE_ORGANIZATION: {
        "operator job",
        "operator job of the other organization",
        "operator job bound to no organization",
    },
}


@dataclass(frozen=True)
class Row:
    """A service's permission, how to set up a call that succeeds when allowed, and the call."""

    permission: Permission
    call: Callable[[Cast, Actor, Any], object]
    prepare: Callable[[Cast], Any] = lambda cast: None


def _in(cast: Cast, actor: Actor) -> dict[str, Any]:
    return {"organization": cast.org, "actor": actor, "reason": REASON}


def _vehicle(cast: Cast) -> Any:
    # Vehicles need no assessment to be ready, so custody can change hands without an override.
    return make_asset(cast.org, "TUG-77", asset_kind="vehicle")


def _held(cast: Cast) -> Any:
    asset = _vehicle(cast)
    return asset_services.custody_assign(
        **_in(cast, operator(cast.org)), asset_id=asset.id, member_id=cast.technician.id
    )


def _scheduled(cast: Cast) -> Any:
    return asset_services.readiness_schedule(
        **_in(cast, operator(cast.org)), asset_id=_vehicle(cast).id, assessment_kind="inspection"
    )


def _disabled_reader(cast: Cast) -> Any:
    return org_services.service_account_disable(
        **_in(cast, operator(cast.org)), account_id=cast.org_reader.account.id
    )


def _expired_token(cast: Cast) -> None:
    OS.token_issue(
        client_id=cast.reader.account.id,
        client_secret=cast.reader.secret,
        client_address="192.0.2.1",
    )
    AccessToken.objects.filter(organization=cast.org).update(expires_at=_past(1))


def _toolbox(cast: Cast) -> Any:
    return OS.responsibility_create(
        **_in(cast, operator(cast.org)),
        responsibility_key="toolbox-a",
        title="Custodian of toolbox A",
        holder_id=cast.technician.id,
    )


def _level(cast: Cast) -> Any:
    return OS.classification_level_create(
        **_in(cast, operator(cast.org)), label="Internal", rank=1, severity="low"
    )


def _enrol(cast: Cast, actor: Actor) -> Any:
    """Set up an authenticator and confirm it with its current code."""
    device = OS.mfa_begin_enrolment(organization=cast.org, actor=actor, member_id=actor.id)
    return OS.mfa_confirm_enrolment(
        organization=cast.org, actor=actor, member_id=actor.id, code=code_now(device.bin_key)
    )


def _past(hours: int) -> Any:
    return now() - timedelta(hours=hours)


W, C, M, R = (
    Permission.WRITE_REGISTER,
    Permission.CONFIGURE_REGISTER,
    Permission.MANAGE_ORGANIZATION,
    Permission.RUN_IMPORT,
)
AS, OS, IS = asset_services, org_services, import_services
PROFILE = {"name": "AMOS", "format": "csv", "columns": {"assetKey": "Key", "displayName": "Name"}}


def _profile(cast: Cast) -> Any:
    return IS.import_profile_create(
        organization=cast.org, actor=operator(cast.org), reason=REASON, definition=PROFILE
    )


def _export(cast: Cast) -> tuple[Any, Any]:
    """A profile and a one-row export for it."""
    folder = Path(tempfile.mkdtemp(prefix="policy-import-"))
    (folder / "a.csv").write_text("Key,Name\nTUG-9,Aircraft tug\n", encoding="utf-8")
    return _profile(cast), IS.SourceFile(folder / "a.csv", "a.csv")


def _planned(cast: Cast) -> Any:
    profile, source = _export(cast)
    return IS.import_run_start(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        profile_id=profile.id,
        source=source,
        trigger="cli",
    )


def _old_run(cast: Cast) -> Any:
    """A run that ended 100 days ago, its plan still kept."""
    run = _planned(cast)
    IS.import_run_discard(
        organization=cast.org, actor=operator(cast.org), reason=REASON, run_id=run.id
    )
    ImportRun.objects.filter(pk=run.pk).update(created_at=run.created_at - timedelta(days=100))
    return run


ROWS: dict[str, Row] = {
    # --- organizations ---
    "organization_create": Row(
        Permission.CREATE_ORGANIZATION,
        lambda c, a, _: OS.organization_create(
            actor=a, reason=REASON, slug="policy-probe", name="Policy probe"
        ),
    ),
    "organization_set_readiness_requirements": Row(
        C,
        lambda c, a, _: AS.organization_set_readiness_requirements(
            **_in(c, a), requirements={"vehicle": ["inspection"]}
        ),
    ),
    "responsibility_assign": Row(
        W,
        lambda c, a, _: OS.responsibility_assign(
            **_in(c, a), responsibility_key="hangar-2", title="Hangar 2 lead", holder_id=None
        ),
    ),
    "responsibility_create": Row(
        W,
        lambda c, a, _: OS.responsibility_create(
            **_in(c, a), responsibility_key="hangar-3", title="Hangar 3 lead"
        ),
    ),
    "responsibility_reassign": Row(
        W,
        lambda c, a, ra: OS.responsibility_reassign(
            **_in(c, a), responsibility_id=ra.id, holder_id=c.editor.id
        ),
        lambda c: _toolbox(c),
    ),
    "responsibility_end": Row(
        W,
        lambda c, a, ra: OS.responsibility_end(**_in(c, a), responsibility_id=ra.id),
        lambda c: _toolbox(c),
    ),
    "organization_update_settings": Row(
        M,
        lambda c, a, _: OS.organization_update_settings(
            **_in(c, a),
            name="Skyline MRO GmbH",
            timezone="Europe/Vienna",
            locale="de-AT",
            require_mfa=True,
            due_soon_days=14,
        ),
    ),
    "classification_level_create": Row(
        C,
        lambda c, a, _: OS.classification_level_create(
            **_in(c, a), label="Restricted", rank=2, severity="high"
        ),
    ),
    "classification_level_update": Row(
        C,
        lambda c, a, level: OS.classification_level_update(
            **_in(c, a), level_id=level.id, label="Internal use", rank=1, severity="moderate"
        ),
        lambda c: _level(c),
    ),
    "classification_level_remove": Row(
        C,
        lambda c, a, level: OS.classification_level_remove(**_in(c, a), level_id=level.id),
        lambda c: _level(c),
    ),
    "readiness_requirement_set": Row(
        C,
        lambda c, a, _: AS.readiness_requirement_set(
            **_in(c, a), asset_kind="vehicle", assessment_kind="inspection", validity_days=365
        ),
    ),
    "readiness_requirement_remove": Row(
        C,
        lambda c, a, _: AS.readiness_requirement_remove(
            **_in(c, a), asset_kind="calibrated-tool", assessment_kind="calibration"
        ),
    ),
    "member_invite": Row(
        M,
        lambda c, a, _: OS.member_invite(**_in(c, a), email="new@example.test", role="viewer"),
    ),
    "member_invitation_resend": Row(
        M, lambda c, a, _: OS.member_invitation_resend(**_in(c, a), member_id=c.pending.id)
    ),
    "member_invitation_cancel": Row(
        M, lambda c, a, _: OS.member_invitation_cancel(**_in(c, a), member_id=c.pending.id)
    ),
    "member_update": Row(
        M,
        lambda c, a, _: OS.member_update(
            **_in(c, a), member_id=c.viewer.id, external_employee_id="SKY-900"
        ),
    ),
    "member_change_role": Row(
        M, lambda c, a, _: OS.member_change_role(**_in(c, a), member_id=c.viewer.id, role="editor")
    ),
    "member_revoke": Row(M, lambda c, a, _: OS.member_revoke(**_in(c, a), member_id=c.viewer.id)),
    # --- multi-factor sign-in ---
    "mfa_begin_enrolment": Row(
        Permission.MANAGE_OWN_ACCOUNT,
        lambda c, a, _: OS.mfa_begin_enrolment(organization=c.org, actor=a, member_id=a.id),
    ),
    "mfa_confirm_enrolment": Row(Permission.MANAGE_OWN_ACCOUNT, lambda c, a, _: _enrol(c, a)),
    "mfa_remove": Row(
        M,
        lambda c, a, _: OS.mfa_remove(**_in(c, a), member_id=c.technician.id),
        lambda c: TOTPDevice.objects.create(user=c.technician, name="app", confirmed=True),
    ),
    "member_set_password": Row(
        M,
        lambda c, a, _: OS.member_set_password(
            **_in(c, a), member_id=c.viewer.id, password="a long new passphrase"
        ),
    ),
    "member_bulk_create_active": Row(
        M,
        lambda c, a, _: OS.member_bulk_create_active(
            **_in(c, a), people=[{"email": "bulk@example.test", "role": "viewer"}]
        ),
    ),
    "service_account_create": Row(
        M,
        lambda c, a, _: OS.service_account_create(**_in(c, a), name="Probe", scopes="assets:read"),
    ),
    "service_account_rotate_secret": Row(
        M,
        lambda c, a, _: OS.service_account_rotate_secret(
            **_in(c, a), account_id=c.reader.account.id
        ),
    ),
    "service_account_disable": Row(
        M, lambda c, a, _: OS.service_account_disable(**_in(c, a), account_id=c.reader.account.id)
    ),
    "service_account_enable": Row(
        M,
        lambda c, a, sa: OS.service_account_enable(**_in(c, a), account_id=sa.id),
        _disabled_reader,
    ),
    "access_token_purge_expired": Row(
        M,
        lambda c, a, _: OS.access_token_purge_expired(**_in(c, a), apply=True),
        _expired_token,
    ),
    "service_account_delete": Row(
        M, lambda c, a, _: OS.service_account_delete(**_in(c, a), account_id=c.reader.account.id)
    ),
    "service_account_update": Row(
        M,
        lambda c, a, _: OS.service_account_update(
            **_in(c, a), account_id=c.reader.account.id, name="Renamed", scopes="assets:read"
        ),
    ),
    # --- assets ---
    "asset_create": Row(
        W,
        lambda c, a, _: AS.asset_create(
            **_in(c, a), asset_key="GPU-1", asset_kind="ground-power", display_name="GPU"
        ),
    ),
    "asset_bulk_change_status": Row(
        W,
        lambda c, a, asset: AS.asset_bulk_change_status(
            **_in(c, a), asset_ids=[asset.id], status="inactive"
        ),
        _vehicle,
    ),
    "asset_bulk_create": Row(
        W,
        lambda c, a, _: AS.asset_bulk_create(
            **_in(c, a),
            specs=[{"asset_key": "GPU-2", "asset_kind": "ground-power", "display_name": "GPU"}],
        ),
    ),
    "asset_update": Row(
        W,
        lambda c, a, asset: AS.asset_update(**_in(c, a), asset_id=asset.id, display_name="Tug"),
        _vehicle,
    ),
    "asset_bulk_update": Row(
        W,
        lambda c, a, asset: AS.asset_bulk_update(
            **_in(c, a), changes={asset.id: {"display_name": "Tug"}}
        ),
        _vehicle,
    ),
    "asset_change_status": Row(
        W,
        lambda c, a, asset: AS.asset_change_status(
            **_in(c, a), asset_id=asset.id, status="inactive"
        ),
        _vehicle,
    ),
    "asset_decommission": Row(
        W,
        lambda c, a, asset: AS.asset_decommission(
            **_in(c, a), asset_id=asset.id, disposal_authorization="DA-1"
        ),
        _vehicle,
    ),
    "asset_bulk_decommission": Row(
        W,
        lambda c, a, asset: AS.asset_bulk_decommission(
            **_in(c, a), decommissions=[{"asset_id": asset.id, "disposal_authorization": "DA-2"}]
        ),
        _vehicle,
    ),
    # --- custody ---
    "custody_assign": Row(
        W,
        lambda c, a, asset: AS.custody_assign(
            **_in(c, a), asset_id=asset.id, member_id=c.technician.id
        ),
        _vehicle,
    ),
    "custody_hand_off": Row(
        W,
        lambda c, a, held: AS.custody_hand_off(
            **_in(c, a), asset_id=held.asset_id, to_member_id=c.editor.id
        ),
        _held,
    ),
    "custody_bulk_hand_over": Row(
        W,
        lambda c, a, held: AS.custody_bulk_hand_over(
            **_in(c, a), asset_ids=[held.asset_id], to_member_id=c.editor.id
        ),
        _held,
    ),
    "custody_bulk_hand_to_holders": Row(
        W,
        lambda c, a, held: AS.custody_bulk_hand_to_holders(
            **_in(c, a), holders={held.asset_id: c.editor.id}
        ),
        _held,
    ),
    # --- imports ---
    "import_profile_create": Row(
        C, lambda c, a, _: IS.import_profile_create(**_in(c, a), definition=PROFILE)
    ),
    "import_profile_update": Row(
        C,
        lambda c, a, p: IS.import_profile_update(
            **_in(c, a), profile_id=p.id, definition={**PROFILE, "name": "AMOS 2"}
        ),
        _profile,
    ),
    "import_profile_delete": Row(
        C, lambda c, a, p: IS.import_profile_delete(**_in(c, a), profile_id=p.id), _profile
    ),
    "import_run_start": Row(
        R,
        lambda c, a, ps: IS.import_run_start(
            **_in(c, a), profile_id=ps[0].id, source=ps[1], trigger="web"
        ),
        _export,
    ),
    "import_run_apply": Row(
        R, lambda c, a, run: IS.import_run_apply(**_in(c, a), run_id=run.id), _planned
    ),
    "import_run_queue": Row(
        R,
        lambda c, a, p: IS.import_run_queue(
            **_in(c, a), profile_id=p.id, upload=ContentFile(b"Key,Name\nTUG-9,Tug\n"), name="a.csv"
        ),
        _profile,
    ),
    "import_run_request_apply": Row(
        R, lambda c, a, run: IS.import_run_request_apply(**_in(c, a), run_id=run.id), _planned
    ),
    "import_run_discard": Row(
        R, lambda c, a, run: IS.import_run_discard(**_in(c, a), run_id=run.id), _planned
    ),
    "import_plans_purge": Row(
        R,
        lambda c, a, _: IS.import_plans_purge(**_in(c, a), older_than_days=30, apply=True),
        _old_run,
    ),
    "import_run_unreachable": Row(
        R,
        lambda c, a, p: IS.import_run_unreachable(
            **_in(c, a),
            profile_id=p.id,
            source_name="https://cmms.example/export.csv",
            message="the export URL answered 404 Not Found",
            trigger="schedule",
        ),
        _profile,
    ),
    "custody_end": Row(
        W, lambda c, a, held: AS.custody_end(**_in(c, a), assignment_id=held.id), _held
    ),
    "custody_bulk_record": Row(
        W,
        lambda c, a, asset: AS.custody_bulk_record(
            **_in(c, a),
            records=[
                {
                    "asset_id": asset.id,
                    "member_id": c.technician.id,
                    "assignment_key": "TUG-77-old",
                    "started_at": _past(48),
                    "ended_at": _past(24),
                }
            ],
        ),
        _vehicle,
    ),
    # --- readiness ---
    "readiness_schedule": Row(
        W,
        lambda c, a, asset: AS.readiness_schedule(
            **_in(c, a), asset_id=asset.id, assessment_kind="inspection"
        ),
        _vehicle,
    ),
    "readiness_bulk_schedule": Row(
        W,
        lambda c, a, asset: AS.readiness_bulk_schedule(
            **_in(c, a), asset_ids=[asset.id], assessment_kind="inspection"
        ),
        _vehicle,
    ),
    "readiness_start": Row(
        W, lambda c, a, r: AS.readiness_start(**_in(c, a), assessment_id=r.id), _scheduled
    ),
    "readiness_complete": Row(
        W,
        lambda c, a, r: AS.readiness_complete(
            **_in(c, a), assessment_id=r.id, readiness_state="ready", performed_at=_past(1)
        ),
        _scheduled,
    ),
    "readiness_cancel": Row(
        W, lambda c, a, r: AS.readiness_cancel(**_in(c, a), assessment_id=r.id), _scheduled
    ),
    "readiness_bulk_record": Row(
        W,
        lambda c, a, asset: AS.readiness_bulk_record(
            **_in(c, a),
            records=[
                {
                    "asset_id": asset.id,
                    "readiness_assessment_key": "TUG-77-insp",
                    "assessment_kind": "inspection",
                    "readiness_state": "ready",
                    "status": "completed",
                    "performed_at": _past(2),
                }
            ],
        ),
        _vehicle,
    ),
}


def _exported_functions() -> dict[str, Callable[..., object]]:
    found = {}
    for package in SERVICE_PACKAGES:
        for name in package.__all__:
            value = getattr(package, name)
            if inspect.isfunction(value):
                found[name] = value
    return found


EXPORTED = _exported_functions()


def _database() -> dict[str, list[dict[str, Any]]]:
    """Every row of every Registra table, to prove that a refused call changed nothing."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for config in apps.get_app_configs()
        if config.name.startswith("registra.")
        for model in config.get_models()
    }


def test_every_exported_service_is_classified():
    assert set(EXPORTED) == set(ROWS) | NOT_SERVICES | CREDENTIAL_SERVICES | WORKER_STEPS


@pytest.mark.parametrize(
    "name", sorted(set(EXPORTED) - NOT_SERVICES - CREDENTIAL_SERVICES - WORKER_STEPS)
)
def test_each_actor_is_allowed_or_refused_by_the_service(cast, name):
    row = ROWS.get(name)
    assert row is not None, f"{name} is exported but has no row in ROWS"
    assert "actor" in inspect.signature(EXPORTED[name]).parameters
    outcomes, unexpected_writes = {}, []
    for label, make_actor in ACTORS.items():
        with transaction.atomic():
            ctx = row.prepare(cast)
            before, mark = _database(), audit_mark(cast.org)
            try:
                row.call(cast, make_actor(cast), ctx)
                outcomes[label] = "allowed"
            except Forbidden:
                outcomes[label] = "refused"
                if _database() != before or audit_mark(cast.org) != mark:
                    unexpected_writes.append(label)
            transaction.set_rollback(True)
        cast.org.refresh_from_db()
    expected = {
        label: "allowed" if label in ALLOWED[row.permission] else "refused" for label in ACTORS
    }
    assert outcomes == expected
    assert unexpected_writes == []


@pytest.mark.parametrize("name", sorted((CREDENTIAL_SERVICES | WORKER_STEPS) & set(EXPORTED)))
def test_credential_services_and_worker_steps_take_no_actor(name):
    assert "actor" not in inspect.signature(EXPORTED[name]).parameters


# --- the query API the web UI uses -----------------------------------------------------------


def test_may_answers_for_the_actors_own_organization_by_default(cast):
    editor = actor_for_member(cast.editor)

    assert policy.may(editor, Permission.WRITE_REGISTER)
    assert not policy.may(editor, Permission.MANAGE_ORGANIZATION)
    assert not policy.may(editor, Permission.WRITE_REGISTER, organization=cast.other_org)
    assert policy.permissions(editor) == {
        Permission.READ_REGISTER,
        Permission.WRITE_REGISTER,
        Permission.RUN_IMPORT,
        Permission.MANAGE_OWN_ACCOUNT,
    }


def test_auditor_reads_the_audit_log_and_viewer_only_the_register(cast):
    auditor, viewer = actor_for_member(cast.auditor), actor_for_member(cast.viewer)

    assert policy.permissions(auditor) == {
        Permission.READ_REGISTER,
        Permission.READ_AUDIT,
        Permission.MANAGE_OWN_ACCOUNT,
    }
    assert policy.permissions(viewer) == {Permission.READ_REGISTER, Permission.MANAGE_OWN_ACCOUNT}


def test_pending_and_revoked_members_get_an_actor_that_may_do_nothing(cast):
    for member in (cast.pending, cast.revoked):
        actor = actor_for_member(member)
        assert (actor.organization_id, actor.status) == (cast.org.id, member.status)
        assert policy.permissions(actor) == frozenset()
        with pytest.raises(Forbidden, match=f"membership is {member.status}"):
            policy.require(actor, Permission.READ_REGISTER)


def test_a_service_account_reads_only_while_active_and_unexpired(cast):
    account = cast.reader.account
    assert policy.permissions(actor_for_service_account(account)) == {Permission.READ_REGISTER}

    account.expires_at = now() - timedelta(seconds=1)
    expired = actor_for_service_account(account)

    assert expired.status == "expired"
    assert not policy.may(expired, Permission.READ_REGISTER)


def test_an_actor_of_another_organization_is_refused_with_a_reason(cast):
    with pytest.raises(Forbidden, match="belongs to another organization") as exc:
        policy.require(
            actor_for_member(cast.outsider), Permission.READ_REGISTER, organization=cast.org
        )
    assert exc.value.code == "forbidden"


def test_an_unknown_system_job_is_an_error_at_once():
    with pytest.raises(ValueError, match="unknown system job 'nightly'"):
        actor_for_system_job("nightly")
