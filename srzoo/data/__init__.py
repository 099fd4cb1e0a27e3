"""Data: registered datasets, downloads, paired crops and degradations."""
