from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "registra.api"
    label = "api"

    def ready(self) -> None:
        from registra.api.v1.stack import require_dispatch

        require_dispatch()
