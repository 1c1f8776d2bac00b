from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "registra.api"
    label = "api"
