"""The Gymnasium search envs, their action wrappers and env id registration."""
