"""The growing generator and discriminator of the search space, and model EMA."""
