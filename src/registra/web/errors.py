"""Service errors onto forms: a validation issue next to its field, anything else (a conflict,
an unprocessable request, a refusal) at the top of the form. The services name fields as the
API does (``memberId``); each form says which of its fields those names mean."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from django import forms
from django.http import Http404

from registra.core.errors import NotFound, RegistraError

T = TypeVar("T")


def show_on_form(form: forms.Form, exc: RegistraError, fields: Mapping[str, str]) -> None:
    """Put the service's ``exc`` on ``form``; ``fields`` maps service names to form fields."""
    placed = False
    for issue in exc.issues or []:
        path = issue.get("path") or []
        name = fields.get(str(path[0])) if path else None
        if name in form.fields:
            form.add_error(name, str(issue.get("message", "is not valid")))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def or_404(read: Callable[..., T], *args: object) -> T:
    """A selector's result, its NotFound as Django's 404 page."""
    try:
        return read(*args)
    except NotFound:
        raise Http404("not found") from None
