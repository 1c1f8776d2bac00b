"""The one versioned NinjaAPI for v1, its routers and the one error handler."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.operation import Operation

from registra.api.v1 import assets, errors, organization, token
from registra.api.v1.records import camel
from registra.core.errors import RegistraError


class _Api(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # SPEC section 4: short camelCase verbs (listAssets, getAsset...), so that generated
        # clients read naturally: the view's name, camelCased (ninja's default prefixes the
        # module path).
        return camel(operation.view_func.__name__)


api = _Api(
    title="Registra Assets API",
    version="1",
    description=(
        "Read-only access to the governed asset register: assets, custody assignments, custody "
        "holders and readiness assessments. Authenticate with a service account's client "
        "credentials at `POST /api/v1/auth/token`, then send `Authorization: Bearer <token>`. "
        "Lists are newest first and keyset-paginated with opaque cursors. Every response "
        "carries `X-Request-Id` and the `X-RateLimit-*` headers."
    ),
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
    # The document and the reference page answer GET and HEAD; other methods are 405.
    docs_decorator=require_safe,
)
api.add_router("", token.router)
api.add_router("", assets.router)
api.add_router("", organization.router)


def _loc(loc: tuple | list) -> list[str | int]:
    parts = list(loc)
    if parts and parts[0] in {"query", "path", "body", "header"}:
        parts = parts[1:]
    return [p if isinstance(p, int) else str(p) for p in parts]


def _message(path: list[str | int], message: str) -> str:
    if path and path[0] == "limit":
        return "must be an integer from 1 to 200"
    return message


@api.exception_handler(NinjaValidationError)
def _validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    issues = []
    for item in exc.errors:
        path = _loc(item.get("loc", ()))
        issues.append({"path": path, "message": _message(path, str(item.get("msg", "invalid")))})
    names = ", ".join(str(i["path"][0]) for i in issues if i["path"]) or "request"
    return errors.error_response(
        request, status=400, code="validation", message=f"invalid {names}", issues=issues
    )


@api.exception_handler(RegistraError)
def _domain(request: HttpRequest, exc: RegistraError) -> HttpResponse:
    return errors.from_exception(request, exc)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return errors.default_for_status(request, 404)


@api.exception_handler(HttpError)
def _http(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return errors.default_for_status(request, exc.status_code)


@api.exception_handler(Exception)
def _failure(request: HttpRequest, exc: Exception) -> HttpResponse:
    return errors.from_failure(request, exc)
