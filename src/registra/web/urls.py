"""The web UI's URLs: signing in and out, the organization picker, and each organization's
pages under ``/o/<slug>/``."""

from django.urls import path

from registra.web.views import (
    asset_detail,
    asset_writes,
    audit_log,
    bulk,
    custody,
    dashboard,
    import_profiles,  # --- imports (issue 9) ---
    import_runs,  # --- imports (issue 9) ---
    invitations,
    members,
    mfa,
    org_settings,
    readiness,
    register,
    responsibilities,
    service_accounts,
    session,
)

app_name = "web"
urlpatterns = [
    path("", session.home, name="home"),
    path("sign-in", session.SignInView.as_view(), name="sign-in"),
    path("sign-out", session.SignOutView.as_view(), name="sign-out"),
    path("o/<slug:slug>/", register.register, name="register"),
    path("o/<slug:slug>/register.csv", register.export, name="register-export"),
    path("o/<slug:slug>/dashboard", dashboard.dashboard, name="dashboard"),
    path("o/<slug:slug>/assets/new", asset_writes.asset_create, name="asset-create"),
    path("o/<slug:slug>/assets/<str:asset_id>/edit", asset_writes.asset_edit, name="asset-edit"),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/status",
        asset_writes.asset_status,
        name="asset-status",
    ),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/decommission",
        asset_writes.asset_decommission,
        name="asset-decommission",
    ),
    path("o/<slug:slug>/bulk/status", bulk.change_status, name="register-bulk-status"),
    path("o/<slug:slug>/bulk/custody", bulk.hand_over, name="register-bulk-custody"),
    path("o/<slug:slug>/bulk/schedule", bulk.schedule, name="register-bulk-schedule"),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/custody/assign", custody.assign, name="custody-assign"
    ),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/custody/hand-off",
        custody.hand_off,
        name="custody-hand-off",
    ),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/custody/<str:custody_id>/end",
        custody.end,
        name="custody-end",
    ),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/readiness/schedule",
        readiness.schedule,
        name="readiness-schedule",
    ),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/readiness/<str:assessment_id>/start",
        readiness.start,
        name="readiness-start",
    ),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/readiness/<str:assessment_id>/complete",
        readiness.complete,
        name="readiness-complete",
    ),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/readiness/<str:assessment_id>/cancel",
        readiness.cancel,
        name="readiness-cancel",
    ),
    path(
        "o/<slug:slug>/assets/<str:asset_id>/readiness/<str:assessment_id>/evidence/<str:sha256>",
        readiness.evidence_file,
        name="evidence",
    ),
    path("o/<slug:slug>/assets/<str:asset_id>/", asset_detail.asset, name="asset"),
    # Members, invitations, multi-factor sign-in
    path("o/<slug:slug>/verify", mfa.verify, name="mfa-verify"),
    path("o/<slug:slug>/account/security", mfa.security, name="mfa-security"),
    path("o/<slug:slug>/account/authenticator", mfa.enrol, name="mfa-enrol"),
    path("o/<slug:slug>/members/", members.members, name="members"),
    path("o/<slug:slug>/members/invite", members.invite, name="members-invite"),
    path("o/<slug:slug>/members/<str:member_id>/resend", members.resend, name="members-resend"),
    path("o/<slug:slug>/members/<str:member_id>/cancel", members.cancel, name="members-cancel"),
    path("o/<slug:slug>/members/<str:member_id>/role", members.change_role, name="members-role"),
    path("o/<slug:slug>/members/<str:member_id>/revoke", members.revoke, name="members-revoke"),
    path("o/<slug:slug>/members/<str:member_id>/edit", members.edit, name="members-edit"),
    path(
        "o/<slug:slug>/members/<str:member_id>/authenticator/remove",
        members.remove_authenticator,
        name="members-remove-authenticator",
    ),
    path("invitations/<str:token>", invitations.accept, name="invitation-accept"),
    # Service accounts
    path(
        "o/<slug:slug>/service-accounts/",
        service_accounts.service_accounts,
        name="service-accounts",
    ),
    path(
        "o/<slug:slug>/service-accounts/new",
        service_accounts.create,
        name="service-account-create",
    ),
    path(
        "o/<slug:slug>/service-accounts/<str:account_id>/edit",
        service_accounts.edit,
        name="service-account-edit",
    ),
    path(
        "o/<slug:slug>/service-accounts/<str:account_id>/rotate",
        service_accounts.rotate,
        name="service-account-rotate",
    ),
    path(
        "o/<slug:slug>/service-accounts/<str:account_id>/disable",
        service_accounts.disable,
        name="service-account-disable",
    ),
    path(
        "o/<slug:slug>/service-accounts/<str:account_id>/enable",
        service_accounts.enable,
        name="service-account-enable",
    ),
    path(
        "o/<slug:slug>/service-accounts/<str:account_id>/delete",
        service_accounts.delete,
        name="service-account-delete",
    ),
    # Responsibilities, classification levels, required kinds, organization settings
    path(
        "o/<slug:slug>/responsibilities/",
        responsibilities.responsibility_list,
        name="responsibilities",
    ),
    path(
        "o/<slug:slug>/responsibilities/new",
        responsibilities.responsibility_create,
        name="responsibility-create",
    ),
    path(
        "o/<slug:slug>/responsibilities/<str:ra_id>/",
        responsibilities.responsibility_detail,
        name="responsibility",
    ),
    path(
        "o/<slug:slug>/responsibilities/<str:ra_id>/reassign",
        responsibilities.responsibility_reassign,
        name="responsibility-reassign",
    ),
    path(
        "o/<slug:slug>/responsibilities/<str:ra_id>/end",
        responsibilities.responsibility_end,
        name="responsibility-end",
    ),
    path("o/<slug:slug>/settings/", org_settings.settings_overview, name="settings"),
    path(
        "o/<slug:slug>/settings/organization",
        org_settings.organization_settings,
        name="settings-organization",
    ),
    path(
        "o/<slug:slug>/settings/classification-levels/new",
        org_settings.level_create,
        name="classification-level-create",
    ),
    path(
        "o/<slug:slug>/settings/classification-levels/<str:level_id>/edit",
        org_settings.level_edit,
        name="classification-level-edit",
    ),
    path(
        "o/<slug:slug>/settings/classification-levels/<str:level_id>/remove",
        org_settings.level_remove,
        name="classification-level-remove",
    ),
    path(
        "o/<slug:slug>/settings/required-kinds/set",
        org_settings.requirement_set,
        name="required-kind-set",
    ),
    path(
        "o/<slug:slug>/settings/required-kinds/remove",
        org_settings.requirement_remove,
        name="required-kind-remove",
    ),
    # --- imports (issue 9) ---
    path("o/<slug:slug>/imports/", import_profiles.imports_home, name="imports"),
    path(
        "o/<slug:slug>/imports/profiles/new",
        import_profiles.profile_create,
        name="import-profile-create",
    ),
    path(
        "o/<slug:slug>/imports/profiles/import",
        import_profiles.profile_import,
        name="import-profile-import",
    ),
    path(
        "o/<slug:slug>/imports/profiles/<str:profile_id>/",
        import_profiles.profile_detail,
        name="import-profile",
    ),
    path(
        "o/<slug:slug>/imports/profiles/<str:profile_id>/edit",
        import_profiles.profile_edit,
        name="import-profile-edit",
    ),
    path(
        "o/<slug:slug>/imports/profiles/<str:profile_id>/delete",
        import_profiles.profile_delete,
        name="import-profile-delete",
    ),
    path(
        "o/<slug:slug>/imports/profiles/<str:profile_id>/profile.toml",
        import_profiles.profile_export,
        name="import-profile-export",
    ),
    path(
        "o/<slug:slug>/imports/profiles/<str:profile_id>/run",
        import_runs.run_start,
        name="import-run-start",
    ),
    path("o/<slug:slug>/imports/runs/<str:run_id>/", import_runs.run_detail, name="import-run"),
    path(
        "o/<slug:slug>/imports/runs/<str:run_id>/state",
        import_runs.run_state_json,
        name="import-run-state",
    ),
    path(
        "o/<slug:slug>/imports/runs/<str:run_id>/apply",
        import_runs.run_apply,
        name="import-run-apply",
    ),
    path(
        "o/<slug:slug>/imports/runs/<str:run_id>/discard",
        import_runs.run_discard,
        name="import-run-discard",
    ),
    path(
        "o/<slug:slug>/imports/runs/<str:run_id>/errors.csv",
        import_runs.run_errors,
        name="import-run-errors",
    ),
    # --- end imports (issue 9) ---
    # The audit log
    path("o/<slug:slug>/audit/", audit_log.log, name="audit"),
    path("o/<slug:slug>/audit/events.csv", audit_log.export, name="audit-export"),
    path("o/<slug:slug>/audit/verify", audit_log.verify, name="audit-verify"),
    path("o/<slug:slug>/audit/checkpoint", audit_log.checkpoint, name="audit-checkpoint"),
]
