"""Template filters for showing stored data: ``{{ value|when }}`` prints a timestamp as a
``<time>`` in the organization's zone (or the mark for nothing), and
``{{ value|when:"%Y-%m-%d %H:%M:%S" }}`` in another ``strftime`` shape."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.safestring import SafeString

from registra.web.display import time_html

register = template.Library()


@register.filter
def when(value: datetime | None, shape: str = "%Y-%m-%d %H:%M") -> SafeString:
    return time_html(value, shape)
