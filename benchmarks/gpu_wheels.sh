#!/usr/bin/env bash
# Fetch (here, with pip's registry) the wheels the GPU machine lacks, into .whl/ (git-ignored),
# for the device tool's `carry`. Its image has torch, numpy, scipy, pandas, scikit-learn,
# matplotlib, tensorboard, tqdm, PyYAML and pillow; gymnasium, SB3 and torch-fidelity travel
# as wheels. The offline Fashion-MNIST files (the Debian package's, SPEC section 6) travel too,
# copied into .gpu_data/ (git-ignored): the GPU machine has no Debian package and no internet.
# carry: [".whl", ".gpu_data"]. See benchmarks/gpu_suite.sh for what runs there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl gymnasium==1.4.0 farama-notifications==0.0.6 stable-baselines3==2.9.2 sb3-contrib==2.9.2 \
    torch-fidelity==0.4.0 cloudpickle==3.1.2
ls -1 .whl && du -sh .whl
FMNIST=/usr/share/datasets/fashion-mnist
if [ -d "$FMNIST" ]; then
    rm -rf .gpu_data && mkdir -p .gpu_data/fashion-mnist && cp "$FMNIST"/*-ubyte.gz .gpu_data/fashion-mnist/
    du -sh .gpu_data
else
    echo "gpu_wheels: $FMNIST missing (bash scripts/setup.sh installs it): the finals part needs it" >&2
    exit 1
fi
