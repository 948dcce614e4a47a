"""Where the package's data files are: the shipped assets and the YAML presets."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ASSET_DIR = PACKAGE_DIR / "assets"  # feature-extractor weights, the benchmark table
CONFIG_DIR = PACKAGE_DIR.parent / "configs"  # presets and configs/agents/<algo>.yaml
