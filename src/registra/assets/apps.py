from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "registra.assets"
    label = "assets"
