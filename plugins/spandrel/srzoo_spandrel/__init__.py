"""srzoo-spandrel: spandrel's architectures as srzoo archs (imports nothing from spandrel until an arch is used)."""

__version__ = "0.1.0"
