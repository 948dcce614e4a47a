"""Benchmark of RL agents on GAN NAS: runs (:mod:`.run`) and their report (:mod:`.report`)."""
