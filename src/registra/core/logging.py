"""Request fields for the JSON log lines (settings.LOGGING formats them with python-json-logger)."""

from __future__ import annotations

import logging


class RequestFields(logging.Filter):
    """Django's request log lines (``django.request``: 4xx and 5xx responses) pass the request
    object in ``extra``; the formatter leaves that object out, and this filter puts the fields
    an operator searches by in its place: ``request_id``, ``method`` and ``path``. Fields the
    log call set itself are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None:
            for name, value in (
                ("request_id", getattr(request, "request_id", None)),
                ("method", getattr(request, "method", None)),
                ("path", getattr(request, "path", None)),
            ):
                if value is not None and not hasattr(record, name):
                    setattr(record, name, value)
        return True
