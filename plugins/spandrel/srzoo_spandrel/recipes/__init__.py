"""Recipes the spandrel plugin registers (YAML files; `registry/` at the repo root links to the full ones)."""
