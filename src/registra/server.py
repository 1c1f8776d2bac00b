"""The production HTTP server behind ``registra serve``: uvicorn with worker processes."""

from __future__ import annotations

import os


def serve(*, host: str, port: int, workers: int) -> None:
    """Collect static files, then serve the ASGI app (static files through WhiteNoise)."""
    import uvicorn
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registra.settings")
    # Printed before uvicorn binds the port: callers wait for /healthz, not for this line.
    print(
        f"Registra is starting on http://{host}:{port}/ (ready when /healthz answers)", flush=True
    )
    uvicorn.run(
        "registra.asgi:application",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        # uvicorn's own messages go through settings.LOGGING (JSON) instead of its text format.
        log_config=None,
        access_log=False,
        lifespan="off",
        proxy_headers=True,
    )
