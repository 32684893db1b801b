"""One module per AWS service. Each exposes ``ROUTES``: (pattern, node factory) pairs."""
