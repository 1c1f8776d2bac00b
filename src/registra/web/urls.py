"""The web UI's URLs: signing in and out, the organization picker, and each organization's
pages under ``/o/<slug>/``."""

from django.urls import path

from registra.web.views import (
    asset_detail,
    asset_writes,
    bulk,
    custody,
    dashboard,
    readiness,
    register,
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
    # --- members, invitations, multi-factor sign-in ---
    # --- service accounts ---
    # --- responsibilities, classification levels, required kinds, organization settings ---
    # --- audit log ---
]
