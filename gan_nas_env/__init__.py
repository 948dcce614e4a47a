"""gan-nas-env: reinforcement-learning GAN architecture search as a Gymnasium environment.

Importing the package registers ``GANCellSearch-v0``::

    import gymnasium as gym
    import gan_nas_env  # noqa: F401
    env = gym.make("GANCellSearch-v0", config="quickstart", device="cpu")
"""

from gan_nas_env.envs.registration import register_envs
from gan_nas_env.errors import UserError
from gan_nas_env.space import AUTOGAN_ARCH, E2GAN_ARCH, Architecture, Cell, SearchSpace

__version__ = "0.1.0"
__all__ = ["AUTOGAN_ARCH", "E2GAN_ARCH", "Architecture", "Cell", "SearchSpace", "UserError",
           "__version__"]

register_envs()
