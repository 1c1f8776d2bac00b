from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "registra.core"
    label = "core"
