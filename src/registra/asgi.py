"""ASGI entry point used by ``registra serve``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registra.settings")
application = get_asgi_application()
