"""Web UI views, a module per area: thin (form -> selector or service -> template)."""
