from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "registra.web"
    label = "web"

    def ready(self) -> None:
        # Django's own receiver writes the member's last sign-in outside the services; the
        # sign-in view records it through ``sign_in_record`` (with its audit event) instead.
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
