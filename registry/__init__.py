"""Recipes shipped with srzoo (YAML files; installed as the package `srzoo.registry`)."""
