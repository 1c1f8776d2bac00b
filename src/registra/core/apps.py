from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "registra.core"
    label = "core"

    def ready(self) -> None:
        from registra.core.pgtime import use_c_timestamp_loader

        connection_created.connect(use_c_timestamp_loader, dispatch_uid="registra.pgtime")

        from registra.core.audit import warn_about_a_host_local_key

        warn_about_a_host_local_key()
