"""How a service's refusal shows on a form: each issue of a ``ValidationFailed`` next to its
field (the services name fields in the API's words, so each form says which of its fields is
which), anything else at the top of the form."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms

from registra.core.errors import Conflict, RegistraError

# Messages of single-field rules read as the end of a sentence about the field ("is required",
# "must be at most 200 characters"): the field's label starts the sentence.
_PREDICATES = ("is ", "must ")


def show_refusal(
    form: forms.Form,
    exc: RegistraError,
    fields: Mapping[str, str],
    *,
    conflict_field: str | None = None,
) -> None:
    """Add ``exc`` to ``form``: ``fields`` maps a service's field name (``displayName``) to the
    form's (``display_name``); a ``Conflict`` goes next to ``conflict_field`` when given."""
    if isinstance(exc, Conflict) and conflict_field in form.fields:
        form.add_error(conflict_field, exc.message)
        return
    if not exc.issues:
        form.add_error(None, exc.message)
        return
    for issue in exc.issues:
        path = [str(p) for p in issue.get("path") or []]
        message = str(issue.get("message", exc.message))
        name = fields.get(path[0]) if path else None
        if name is not None and name in form.fields:
            form.add_error(name, _sentence(form.fields[name].label, message))
        else:
            form.add_error(None, f"{'.'.join(path)}: {message}" if path else message)


def _sentence(label: object, message: str) -> str:
    if message.startswith(_PREDICATES):
        return f"{label} {message}."
    return message[:1].upper() + message[1:]
