"""srzoo-realesrgan: Real-ESRGAN's degradation pipeline, compact generator, U-Net discriminator and recipes."""

__version__ = "0.1.0"
