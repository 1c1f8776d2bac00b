from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "registra.imports"
    label = "imports"
