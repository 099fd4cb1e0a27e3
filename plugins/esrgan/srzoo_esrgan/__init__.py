"""srzoo-esrgan: ESRGAN's generator, VGG discriminator and perceptual / relativistic GAN losses for srzoo."""

__version__ = "0.1.0"
