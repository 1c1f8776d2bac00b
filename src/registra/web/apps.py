from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "registra.web"
    label = "web"
