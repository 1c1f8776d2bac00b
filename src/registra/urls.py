"""URL wiring."""

from django.urls import path

from registra.api.v1.api import api as api_v1
from registra.web import health

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/v1/", api_v1.urls),
]
