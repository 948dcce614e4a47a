"""Toy experiments: small MLP GANs on low-dimensional Gaussian mixtures."""
