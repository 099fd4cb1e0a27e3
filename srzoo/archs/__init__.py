"""Core's built-in archs (registered through entry points in srzoo's own pyproject.toml)."""
