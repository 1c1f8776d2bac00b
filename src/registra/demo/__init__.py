"""The demo register generator: a seeded aviation-maintenance register written through the
services, like any other caller (``registra demo-data``)."""
