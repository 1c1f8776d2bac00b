"""The URLconf of API v1's own handler (``stack.ApiHandler``): the API and nothing else."""

from django.urls import path

from registra.api.v1.api import api

urlpatterns = [path("api/v1/", api.urls)]
