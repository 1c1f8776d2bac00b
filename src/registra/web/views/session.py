"""Signing in and out (Django's auth views), and the organization picker."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse

from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.web.auth import MEMBERSHIPS, start_session
from registra.web.forms import SignInForm
from registra.web.sign_in_limits import client_address, count_refusal, throttle


class SignInView(auth_views.LoginView):
    """Django's sign-in view with the email form; afterwards the organization (one) or the
    picker (several), unless a safe ``next`` was asked for."""

    form_class = SignInForm  # type: ignore[assignment]
    template_name = "web/sign_in.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        """Refused at once while the account or the address is throttled (the password is not
        even checked), with the same answer whether or not the account exists."""
        email = str(request.POST.get("email", ""))
        limit = throttle(request, email)
        if limit.refused:
            org_services.sign_in_failure_record(
                email=email, client_address=client_address(request), why="throttled"
            )
            form = SignInForm(request, initial={"email": email})
            context = self.get_context_data(form=form, refusal=limit.message)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: SignInForm) -> HttpResponse:  # type: ignore[override]
        if form.has_error("__all__", "invalid_login"):  # the credentials were checked
            email = form.cleaned_data.get("email", "")
            count_refusal(self.request, email)
            org_services.sign_in_failure_record(
                email=email, client_address=client_address(self.request), why="wrong password"
            )
        return super().form_invalid(form)  # type: ignore[arg-type]

    def form_valid(self, form: SignInForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_valid(form)  # type: ignore[arg-type]  # logs in: a new session key, a new CSRF token
        start_session(self.request, form.get_user().memberships)  # type: ignore[attr-defined]
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
