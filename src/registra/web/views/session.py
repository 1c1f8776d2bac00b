"""Signing in and out (Django's auth views), and the organization picker."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse

from registra.organizations import selectors as org_selectors
from registra.web.auth import MEMBERSHIPS
from registra.web.forms import SignInForm


class SignInView(auth_views.LoginView):
    """Django's sign-in view with the email form; afterwards the organization (one) or the
    picker (several), unless a safe ``next`` was asked for."""

    form_class = SignInForm  # type: ignore[assignment]
    template_name = "web/sign_in.html"
    redirect_authenticated_user = True

    def form_valid(self, form: SignInForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_valid(form)  # type: ignore[arg-type]  # logs in: a new session key, a new CSRF token
        self.request.session[MEMBERSHIPS] = form.get_user().memberships  # type: ignore[attr-defined]
        return response

    def get_default_redirect_url(self) -> str:
        return reverse("web:home")


class SignOutView(auth_views.LogoutView):
    """POST only (Django's): ends the session, back to the sign-in page."""

    next_page = "web:sign-in"


@login_required
def home(request: HttpRequest) -> HttpResponseBase:
    """The organization picker; straight to the register when there is only one."""
    organizations = org_selectors.signed_in_organizations(
        list(request.session.get(MEMBERSHIPS, []))
    )
    if len(organizations) == 1:
        return redirect("web:register", slug=organizations[0].slug)
    return render(request, "web/organizations.html", {"organizations": organizations})
