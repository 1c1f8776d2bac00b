"""Tests of ``registra.assets.services``. Each test checks what the service returns, the rows it
leaves, and the audit events it wrote; each refused case must change nothing and audit nothing."""
