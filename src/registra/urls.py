"""URL wiring."""

from django.urls import path

from registra.web import health

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
]
