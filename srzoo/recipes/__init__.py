"""Recipes: the typed schema (schema.py) and the strict YAML loader with bases and overrides (loader.py)."""
