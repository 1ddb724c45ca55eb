"""API views, one module per resource; each view declares ``required_role`` (checked by HasRole)."""
