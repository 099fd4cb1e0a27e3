"""Core's generic losses (registered through entry points in srzoo's own pyproject.toml)."""
