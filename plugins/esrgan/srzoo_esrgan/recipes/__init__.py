"""Recipes the esrgan plugin registers (YAML files; `registry/` at the repo root links to them)."""
