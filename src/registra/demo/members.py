"""Sign-in for the demo: one member per role the demo walks through (an admin, an editor, an
auditor and a viewer of the demo crew) gets a fresh random password, through the same service
an admin's reset uses, so every change is audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from registra.core.errors import NotFound
from registra.demo.plan import crew
from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.organizations.policy import actor_for_system_job

DEMO_ROLES = ("admin", "editor", "auditor", "viewer")


@dataclass(frozen=True)
class DemoSignIn:
    """How to sign in as one demo member (the password is shown once)."""

    email: str
    role: str
    full_name: str
    password: str


def demo_sign_ins(org_slug: str) -> list[DemoSignIn]:
    """Fresh passwords for the first crew member of each of ``DEMO_ROLES``; the organization's
    demo crew must be loaded (``registra demo-data``)."""
    org = org_selectors.organization_get_by_slug(org_slug)
    members = {m.email: m for m in org_selectors.member_list(org)}
    actor = actor_for_system_job("demo-data", organization=org, label="registra demo-members")
    out = []
    for role in DEMO_ROLES:
        person = next(p for p in crew(org.slug) if p.role == role)
        member = members.get(person.email)
        if member is None:
            raise NotFound(
                f"demo member {person.email} not found: run registra demo-data --org {org_slug}"
            )
        password = secrets.token_urlsafe(12)
        org_services.member_set_password(
            organization=org,
            actor=actor,
            reason=f"Demo sign-in: a fresh password for the demo {role}",
            member_id=member.id,
            password=password,
        )
        out.append(DemoSignIn(member.email, role, member.full_name, password))
    return out
