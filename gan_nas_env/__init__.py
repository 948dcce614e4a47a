"""gan-nas-env: reinforcement-learning GAN architecture search as a Gymnasium environment."""

__version__ = "0.1.0"
