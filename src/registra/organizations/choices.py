"""Statuses, roles and scopes of organizations, members and service accounts."""

from __future__ import annotations

from django.db import models


class OrganizationStatus(models.TextChoices):
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class MemberRole(models.TextChoices):
    ADMIN = "admin"
    EDITOR = "editor"
    AUDITOR = "auditor"
    VIEWER = "viewer"


class MembershipStatus(models.TextChoices):
    PENDING = "pending"
    ACTIVE = "active"
    REVOKED = "revoked"


class ServiceAccountStatus(models.TextChoices):
    ACTIVE = "active"
    DISABLED = "disabled"
    DELETED = "deleted"


class Severity(models.TextChoices):
    """A classification level's severity (SPEC section 3)."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    CRITICAL = "critical"


class Scope(models.TextChoices):
    ASSETS_READ = "assets:read"
    ORGANIZATION_READ = "organization:read"


ALL_SCOPES = frozenset(Scope.values)
