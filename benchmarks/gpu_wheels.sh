#!/usr/bin/env bash
# Fetch (here, with pip's registry) the wheels the GPU machine lacks, into .whl/ (git-ignored),
# for the device tool's `carry`. Its image has torch, numpy, scipy, pandas, scikit-learn,
# matplotlib, tensorboard, tqdm, PyYAML and pillow; gymnasium, SB3 and torch-fidelity travel
# as wheels. See benchmarks/gpu_suite.sh for what runs there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl gymnasium==1.4.0 farama-notifications==0.0.6 stable-baselines3==2.9.2 sb3-contrib==2.9.2 \
    torch-fidelity==0.4.0 cloudpickle==3.1.2
ls -1 .whl && du -sh .whl
