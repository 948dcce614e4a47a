"""Where the package's data files are: the shipped assets and the YAML presets."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ASSET_DIR = PACKAGE_DIR / "assets"  # feature-extractor weights, the benchmark table
DEFAULT_CACHE = "~/.cache/gan_nas_env"
CACHE_ENV = "GAN_NAS_ENV_CACHE"  # moves the default cache elsewhere (the test suite uses it)


def cache_path(path: str) -> Path:
    """``path`` expanded; one under the default cache moves under ``$GAN_NAS_ENV_CACHE`` if set.

    The defaults of ``metrics.cache_dir`` (real statistics) and of the torchvision data
    root live under ``~/.cache/gan_nas_env``; an explicitly configured other path is kept.
    """
    moved = os.environ.get(CACHE_ENV)
    if moved and (path == DEFAULT_CACHE or path.startswith(DEFAULT_CACHE + "/")):
        path = moved + path[len(DEFAULT_CACHE):]
    return Path(path).expanduser()


def _config_dir_candidates() -> list[Path]:
    """Where the presets may be, best first.

    1. The package ``gan_nas_env.configs``: a wheel ships the top-level ``configs/`` folder
       there (see ``package-dir`` in pyproject.toml).
    2. The checkout's top-level ``configs/``: a source tree without install, or an editable
       install (setuptools' editable finder does not map the data-only subpackage).
    """
    candidates: list[Path] = []
    try:
        spec = importlib.util.find_spec("gan_nas_env.configs")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p).resolve() for p in spec.submodule_search_locations]
    candidates += [PACKAGE_DIR / "configs", PACKAGE_DIR.parent / "configs"]
    return list(dict.fromkeys(candidates))


def _find_config_dir() -> Path:
    candidates = _config_dir_candidates()
    for path in candidates:
        if path.is_dir() and any(path.glob("*.yaml")):
            return path
    raise FileNotFoundError(
        "gan_nas_env: the YAML presets (configs/*.yaml) are missing; looked in "
        + ", ".join(str(p) for p in candidates)
        + ". Reinstall the package (pip install . or pip install -e . from the checkout), "
        "or run from a checkout that has its top-level configs/ folder."
    )


CONFIG_DIR = _find_config_dir()  # presets and configs/agents/<algo>.yaml
