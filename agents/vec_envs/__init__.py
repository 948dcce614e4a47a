"""Vector envs that run search envs in parallel: in threads or in Ray actors."""
