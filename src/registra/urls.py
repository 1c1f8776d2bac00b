"""URL wiring of the web chain. ``/api/v1`` has its own handler and URLconf
(``registra.api.v1.stack``)."""

from django.urls import include, path

from registra.web import health

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("", include("registra.web.urls")),
]
