"""The web URLs plus stand-ins for the write pages other areas add (asset-edit, custody-end...),
so the asset page's tests can see its controls link to them once they exist."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from registra.web import urls as web_urls


def _stand_in(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse("stand-in")


_ASSET = "o/<slug:slug>/assets/<str:asset_id>/"
_WRITES = [
    path(f"{_ASSET}edit", _stand_in, name="asset-edit"),
    path(f"{_ASSET}status", _stand_in, name="asset-status"),
    path(f"{_ASSET}decommission", _stand_in, name="asset-decommission"),
    path(f"{_ASSET}custody/assign", _stand_in, name="custody-assign"),
    path(f"{_ASSET}custody/hand-off", _stand_in, name="custody-hand-off"),
    path(f"{_ASSET}custody/<str:custody_id>/end", _stand_in, name="custody-end"),
]
urlpatterns = [path("", include(([*web_urls.urlpatterns, *_WRITES], "web")))]
