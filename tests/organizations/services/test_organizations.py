"""Organizations, their readiness requirements, reasons, and responsibilities (SPEC section 2)."""

from __future__ import annotations

import pytest

from registra.assets import services as asset_services
from registra.core.audit import verify_chain
from registra.core.errors import (
    Conflict,
    NotFound,
    Unprocessable,
    ValidationFailed,
)
from registra.core.models import AuditEvent
from registra.organizations import services
from registra.organizations.models import (
    Member,
    Organization,
    ResponsibilityAssignment,
)
from tests.cast import OPERATOR_ID, operator
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues
from tests.organizations.services.helpers import REASON
from tests.organizations.services.helpers import invite as _invite

CLIENT_ADDRESS = "192.0.2.10"


# --- organizations ---------------------------------------------------------------------------


def test_organization_create(db):
    org = services.organization_create(
        actor=operator(),
        reason=REASON,
        slug="northwind-aero",
        name="Northwind Aero",
        timezone="America/Chicago",
        locale="en-GB",
        readiness_requirements={"calibrated-tool": ["inspection", "calibration", "calibration"]},
    )

    assert org.id.startswith("org_")
    stored = Organization.objects.get(id=org.id)
    assert (stored.slug, stored.name, stored.timezone, stored.locale, stored.status) == (
        "northwind-aero",
        "Northwind Aero",
        "America/Chicago",
        "en-GB",
        "active",
    )
    assert stored.readiness_requirements == {"calibrated-tool": ["calibration", "inspection"]}
    [event] = _since(org, 0)
    assert (event.action, event.actor_id, event.reason) == (
        "organization.created",
        OPERATOR_ID,
        REASON,
    )
    assert (event.subject_type, event.subject_id) == ("organization", org.id)
    assert event.diff["before"] is None
    assert event.diff["after"]["slug"] == "northwind-aero"
    assert event.diff["after"]["readinessRequirements"] == {
        "calibrated-tool": ["calibration", "inspection"]
    }
    assert verify_chain(org.id).ok


@pytest.mark.parametrize("slug", ["a", "7", "a1", "0-b", "skyline-mro-2", "a--b", "a" * 63])
def test_organization_create_accepts_valid_slugs(db, slug):
    org = services.organization_create(actor=operator(), reason=REASON, slug=slug, name="Valid")

    assert Organization.objects.get(id=org.id).slug == slug
    assert _since(org, 0)[0].action == "organization.created"


@pytest.mark.parametrize(
    "slug",
    ["", "-abc", "abc-", "-", "Skyline", "sky_line", "sky line", "sky.line", "äbc", "a" * 64, None],
)
def test_organization_create_refuses_invalid_slugs(db, slug):
    with pytest.raises(ValidationFailed) as exc:
        services.organization_create(actor=operator(), reason=REASON, slug=slug, name="Invalid")

    assert _issues(exc) == [["slug"]]
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


def test_organization_create_refuses_a_duplicate_slug(cast):
    orgs, events = Organization.objects.count(), AuditEvent.objects.count()

    with pytest.raises(Conflict, match="skyline-mro"):
        services.organization_create(
            actor=operator(), reason=REASON, slug="skyline-mro", name="Skyline Again"
        )

    assert Organization.objects.count() == orgs
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("name", {"name": ""}),
        ("name", {"name": "n" * 201}),
        ("timezone", {"timezone": "Mars/Olympus_Mons"}),
        ("locale", {"locale": "e"}),
        ("reason", {"reason": "too short"}),
        ("readinessRequirements", {"readiness_requirements": {"calibrated-tool": "calibration"}}),
        ("readinessRequirements", {"readiness_requirements": {"calibrated-tool": [""]}}),
        ("readinessRequirements", {"readiness_requirements": ["calibration"]}),
    ],
)
def test_organization_create_names_the_invalid_field(db, field, overrides):
    kwargs = {"actor": operator(), "reason": REASON, "slug": "northwind", "name": "Northwind"}
    kwargs.update(overrides)

    with pytest.raises(ValidationFailed) as exc:
        services.organization_create(**kwargs)

    assert _issues(exc) == [[field]]
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


def test_organization_set_readiness_requirements(cast):
    mark = _mark(cast.org)

    org = asset_services.organization_set_readiness_requirements(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        requirements={"calibrated-tool": ["calibration"], "vehicle": ["inspection"]},
    )

    expected = {"calibrated-tool": ["calibration"], "vehicle": ["inspection"]}
    assert org.readiness_requirements == expected
    assert Organization.objects.get(id=cast.org.id).readiness_requirements == expected
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "organization.readiness-requirements-changed",
        cast.admin.id,
        REASON,
    )
    assert event.diff["before"] == {"readinessRequirements": {"calibrated-tool": ["calibration"]}}
    assert event.diff["after"] == {"readinessRequirements": expected}

    with pytest.raises(ValidationFailed):
        asset_services.organization_set_readiness_requirements(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            requirements={"vehicle": "x"},
        )
    assert Organization.objects.get(id=cast.org.id).readiness_requirements == expected
    assert len(_since(cast.org, mark)) == 1


# --- reasons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["x" * 10, "x" * 1000, "  ten chars!  "])
def test_a_reason_of_10_to_1000_characters_is_accepted(cast, reason):
    mark = _mark(cast.org)

    services.member_invite(
        organization=cast.org,
        actor=operator(cast.org),
        reason=reason,
        email="new@example.test",
        role="viewer",
    )

    assert _since(cast.org, mark)[0].reason == reason.strip()


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "must be at least 10 characters"),
        ("x" * 9, "must be at least 10 characters"),
        ("   short    ", "must be at least 10 characters"),
        ("x" * 1001, "must be at most 1000 characters"),
        (None, "must be a string"),
    ],
)
def test_a_missing_short_or_long_reason_is_refused(cast, reason, message):
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        services.member_invite(
            organization=cast.org,
            actor=operator(cast.org),
            reason=reason,
            email="new@example.test",
            role="viewer",
        )

    assert exc.value.issues == [{"path": ["reason"], "message": message}]
    assert not Member.objects.filter(email="new@example.test").exists()
    assert _since(cast.org, mark) == []


# --- responsibilities ------------------------------------------------------------------------


def test_responsibility_assign_creates_then_reassigns(cast):
    mark = _mark(cast.org)

    ra = services.responsibility_assign(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        responsibility_key="toolbox-A.custodian",
        title="Custodian of toolbox A",
        holder_id=cast.technician.id,
    )

    assert ra.id.startswith("ra_")
    stored = ResponsibilityAssignment.objects.get(id=ra.id)
    assert (stored.organization_id, stored.responsibility_key, stored.holder_id) == (
        cast.org.id,
        "toolbox-A.custodian",
        cast.technician.id,
    )
    [created] = _since(cast.org, mark)
    assert (created.action, created.actor_id, created.reason, created.subject_id) == (
        "responsibility.assigned",
        cast.admin.id,
        REASON,
        ra.id,
    )
    assert created.diff["before"] is None
    assert created.diff["after"] == {
        "responsibilityKey": "toolbox-A.custodian",
        "title": "Custodian of toolbox A",
        "description": "",
        "holderId": cast.technician.id,
    }

    again = services.responsibility_assign(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        responsibility_key="toolbox-A.custodian",
        title="Custodian of toolbox A",
        holder_id=cast.editor.id,
    )

    assert again.id == ra.id
    assert ResponsibilityAssignment.objects.filter(organization=cast.org).count() == 1
    assert ResponsibilityAssignment.objects.get(id=ra.id).holder_id == cast.editor.id
    reassigned = _since(cast.org, mark)[1]
    assert reassigned.diff["before"]["holderId"] == cast.technician.id
    assert reassigned.diff["after"]["holderId"] == cast.editor.id


def test_responsibility_assign_without_a_holder(cast):
    ra = services.responsibility_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        responsibility_key="hangar-2",
        title="Hangar 2 tools",
        holder_id=None,
    )

    assert ResponsibilityAssignment.objects.get(id=ra.id).holder_id is None


def test_responsibility_assign_refuses_an_outsider_or_inactive_holder(cast):
    invitation = _invite(cast, role="viewer")
    mark = _mark(cast.org)

    with pytest.raises(NotFound):
        services.responsibility_assign(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            responsibility_key="toolbox-A",
            title="Toolbox A",
            holder_id=cast.outsider.id,
        )
    with pytest.raises(Unprocessable, match="active member"):
        services.responsibility_assign(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            responsibility_key="toolbox-A",
            title="Toolbox A",
            holder_id=invitation.member.id,
        )

    assert not ResponsibilityAssignment.objects.exists()
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("responsibilityKey", {"responsibility_key": "-toolbox"}),
        ("responsibilityKey", {"responsibility_key": "tool box"}),
        ("title", {"title": ""}),
        ("description", {"description": "d" * 4001}),
    ],
)
def test_responsibility_assign_names_the_invalid_field(cast, field, overrides):
    kwargs = {"responsibility_key": "toolbox-A", "title": "Toolbox A", "holder_id": None}
    kwargs.update(overrides)

    with pytest.raises(ValidationFailed) as exc:
        services.responsibility_assign(
            organization=cast.org, actor=operator(cast.org), reason=REASON, **kwargs
        )

    assert _issues(exc) == [[field]]
    assert not ResponsibilityAssignment.objects.exists()
