"""Recipes the realesrgan plugin registers (YAML files; `registry/` at the repo root links to them)."""
