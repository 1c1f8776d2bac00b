"""Organizations (tenants), member users, responsibilities, service accounts, access tokens."""

from __future__ import annotations

from typing import ClassVar
from zoneinfo import ZoneInfo

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.db.models import Q

from registra.core.ids import new_id
from registra.organizations.choices import (
    MemberRole,
    MembershipStatus,
    OrganizationStatus,
    ServiceAccountStatus,
    Severity,
)


def _id(prefix: str):  # type: ignore[no-untyped-def]
    def make() -> str:
        return new_id(prefix)

    make.__name__ = f"new_{prefix}_id"
    make.__qualname__ = make.__name__
    return make


new_org_id = _id("org")
new_user_id = _id("user")
new_ra_id = _id("ra")
new_svc_id = _id("svc")
new_tok_id = _id("tok")
new_rc_id = _id("rc")
new_clvl_id = _id("clvl")


class Organization(models.Model):
    """The tenant: every record belongs to exactly one organization."""

    id = models.CharField(primary_key=True, max_length=40, default=new_org_id, editable=False)
    slug = models.CharField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC")
    locale = models.CharField(max_length=35, default="en-US")
    status = models.CharField(
        max_length=16, choices=OrganizationStatus.choices, default=OrganizationStatus.ACTIVE
    )
    require_mfa = models.BooleanField(default=False)
    # asset kind -> assessment kinds it needs to be ready: {"calibrated-tool": ["calibration"]}
    readiness_requirements = models.JSONField(default=dict, blank=True)
    # asset kind -> required assessment kind -> days a completed one stays valid when its record
    # has no due date: {"calibrated-tool": {"calibration": 365}} (decision record 0013)
    readiness_validity = models.JSONField(default=dict, blank=True)
    # A required assessment due within this many days is "due soon" (dashboard, register filter).
    due_soon_days = models.PositiveSmallIntegerField(default=30)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OrganizationStatus.values), name="org_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def zone(self) -> ZoneInfo:
        """The organization's time zone: its pages' dates, and the days its readiness reasons
        name."""
        return ZoneInfo(self.timezone)


class Member(AbstractBaseUser):
    """A person who signs in to the web UI of one organization; joins only by invitation."""

    id = models.CharField(primary_key=True, max_length=40, default=new_user_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=200, blank=True, default="")
    role = models.CharField(max_length=16, choices=MemberRole.choices)
    status = models.CharField(
        max_length=16, choices=MembershipStatus.choices, default=MembershipStatus.PENDING
    )
    # The CMMS's employee id, so imports and drift checks can match custody holders.
    external_employee_id = models.CharField(max_length=128, blank=True, default="")
    invitation_token_hash = models.CharField(max_length=64, blank=True, default="")
    invitation_expires_at = models.DateTimeField(null=True, blank=True)
    invited_by_id = models.CharField(max_length=40, blank=True, default="")
    totp_secret = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    USERNAME_FIELD = "id"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "email"], name="member_org_email_uniq"),
            # Imports and the drift check match custody holders by it (revoked members aside).
            models.UniqueConstraint(
                fields=["organization", "external_employee_id"],
                condition=~Q(external_employee_id="") & ~Q(status=MembershipStatus.REVOKED),
                name="member_org_extid_uniq",
            ),
            models.CheckConstraint(
                condition=Q(role__in=MemberRole.values), name="member_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=MembershipStatus.values), name="member_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "external_employee_id"], name="member_org_extid"),
            # API v1's custody holder pages (newest first), as the other lists' page indexes.
            models.Index(fields=["organization", "-created_at", "-id"], name="member_org_page"),
            models.Index(fields=["invitation_token_hash"], name="member_invitation"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name or self.email} ({self.id})"

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status == MembershipStatus.ACTIVE


class ResponsibilityAssignment(models.Model):
    """Who is accountable for what, e.g. "custodian of toolbox A" held by a member."""

    id = models.CharField(primary_key=True, max_length=40, default=new_ra_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    responsibility_key = models.CharField(max_length=128)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    holder = models.ForeignKey(
        Member, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "responsibility_key"], name="ra_org_key_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ClassificationLevel(models.Model):
    """One of the organization's classification levels: a label, a rank (higher ranks first)
    and a severity. An asset's classification snapshot holds a copy taken when it was
    classified, so editing or removing a level leaves every snapshot as it was."""

    id = models.CharField(primary_key=True, max_length=40, default=new_clvl_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    label = models.CharField(max_length=100)
    rank = models.PositiveSmallIntegerField()
    severity = models.CharField(max_length=16, choices=Severity.choices)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "label"], name="clvl_org_label_uniq"),
            models.UniqueConstraint(fields=["organization", "rank"], name="clvl_org_rank_uniq"),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="clvl_severity_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.label


class ServiceAccount(models.Model):
    """A non-human API identity. Its id is the OAuth client id; the secret is stored as a keyed
    hash (``credentials.secret_hash``; older rows: a password hash, upgraded on next use)."""

    id = models.CharField(primary_key=True, max_length=40, default=new_svc_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    name = models.CharField(max_length=200)
    contact_email = models.EmailField(max_length=254, blank=True, default="")
    scopes = models.JSONField(default=list)
    secret_hash = models.CharField(max_length=256)
    status = models.CharField(
        max_length=16, choices=ServiceAccountStatus.choices, default=ServiceAccountStatus.ACTIVE
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ServiceAccountStatus.values), name="svc_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="svc_org_status")]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class AccessToken(models.Model):
    """An opaque bearer token, stored only as its keyed hash (``credentials.token_hash``).

    It dies with its service account: rotation, disabling and deletion delete the account's
    tokens in the same transaction, and the auth check also refuses an expired account.
    """

    id = models.CharField(primary_key=True, max_length=40, default=new_tok_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "service_account"], name="tok_org_svc"),
            models.Index(fields=["organization", "expires_at"], name="tok_org_expires"),
        ]

    def __str__(self) -> str:
        return self.id


class RecoveryCode(models.Model):
    """One of a member's one-time recovery codes for multi-factor sign-in, as a keyed hash
    (decision 0014); ``used_at`` once it has been used."""

    id = models.CharField(primary_key=True, max_length=40, default=new_rc_id, editable=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["member", "code_hash"], name="recovery_code_member")]

    def __str__(self) -> str:
        return self.id
