"""WSGI entry point: ``application`` is Django's; ``served`` is what ``registra serve`` runs
(decision 0008), the same application behind Granian's forwarded-header check, which takes the
client address and scheme from ``X-Forwarded-For`` and ``X-Forwarded-Proto`` only when the peer
is one of ``REGISTRA_FORWARDED_ALLOW_IPS`` (a proxy in front of the server)."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from granian.utils.proxies import wrap_wsgi_with_proxy_headers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registra.settings")
application = get_wsgi_application()
served = wrap_wsgi_with_proxy_headers(application, trusted_hosts=settings.FORWARDED_ALLOW_IPS)
