"""Helpers shared by the organization service tests."""

from __future__ import annotations

from registra.organizations import services

REASON = "Requested by the quality manager"


def invite(cast, email="new.admin@example.test", role="admin", full_name=""):
    return services.member_invite(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        email=email,
        role=role,
        full_name=full_name,
    )
