"""SB3 agents by name, the E2GAN schedule callback, random search and the search runner."""

from agents.algorithms import ALGOS, make_agent, wrap_for_algo

__all__ = ["ALGOS", "make_agent", "wrap_for_algo"]
