"""A plain wheel install (not ``pip install -e``) works: it ships the presets and the CLI runs.

Builds the wheel from a copy of the checkout (no network: ``--no-build-isolation``), installs
it into a fresh virtual environment outside the checkout, and runs ``gym.make``,
``gan-nas --help`` and a 1-episode ``gan-nas search --config tiny`` there with PYTHONPATH
cleared. The dependencies come from the interpreter running the tests: a ``.pth`` file in the
new environment adds that interpreter's site-packages folders (its venv's, when it runs in
one, not only the base Python's that ``--system-site-packages`` would give). ``.ci/run`` runs
this file a second time from inside a fresh venv.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from agents import hyperparams
from agents.hyperparams import load_hyperparams
from agents.registry import ALGOS
from gan_nas_env.config import ConfigError

REPO = Path(__file__).resolve().parents[1]
# build outputs and local state that must not end up in (or slow down) the wheel build
COPY_IGNORE = shutil.ignore_patterns(
    ".git", "build", "dist", "runs", ".venv", ".whl", "*.egg-info", "__pycache__",
    ".pytest_cache", ".ruff_cache", "*.pyc",
)


def _setuptools_can_build() -> str | None:
    """Why the wheel cannot be built offline here, or None."""
    try:
        import setuptools
    except ImportError:
        return "setuptools is not installed (needed with --no-build-isolation)"
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    if (major, minor) < (64, 0):
        return f"setuptools {setuptools.__version__} < 64 (pyproject.toml build-system)"
    if (major, minor) < (70, 1):  # older setuptools needs the wheel package for bdist_wheel
        try:
            import wheel  # noqa: F401
        except ImportError:
            return f"setuptools {setuptools.__version__} needs the 'wheel' package"
    return None


def _site_dirs() -> list[str]:
    """The site-packages folders of the interpreter running the tests, in its order."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        dirs.append(site.getusersitepackages())
    return dirs


def _inherit_site_dirs(py: Path, dirs: list[str]) -> Path:
    """Make the venv of ``py`` see ``dirs`` after its own site-packages; the .pth written.

    ``site.addsitedir`` also runs the ``.pth`` files found there (namespace packages,
    editable installs), as the interpreter running the tests does.
    """
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    pth = Path(purelib) / "_outer_site_packages.pth"
    pth.write_text("".join(f"import site; site.addsitedir({d!r})\n" for d in dirs))
    return pth


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")  # a smoke run: threads only oversubscribe
    env.setdefault("MKL_NUM_THREADS", "1")
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 120):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """(wheel path, venv dir, a work dir outside the checkout, env) with the wheel installed."""
    reason = _setuptools_can_build()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("wheel")
    assert REPO not in root.resolve().parents, "the temporary dir must be outside the checkout"
    # build from a copy: an in-tree build writes build/ and *.egg-info into the checkout
    # and would ship stale modules left in build/lib
    src = root / "src"
    shutil.copytree(REPO, src, ignore=COPY_IGNORE)
    wheels = root / "wheels"
    env = _clean_env(root / "venv")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(wheels), str(src)], cwd=root, env=env)
    (wheel,) = wheels.glob("gan_nas_env-*.whl")

    venv = root / "venv"
    # --without-pip: the pip of the interpreter running the tests installs into the venv
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root, env=env)
    py = venv / "bin" / "python"
    _inherit_site_dirs(py, _site_dirs())
    _run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall",
          "-q", str(wheel)], cwd=root, env=env)
    work = root / "work"
    work.mkdir()
    return wheel, venv, work, env


def test_wheel_venv_sees_the_test_interpreters_site_packages(wheel_venv):
    # in a venv the dependencies live in the venv's site-packages, not the base Python's
    _, venv, work, env = wheel_venv
    proc = _run([str(venv / "bin" / "python"), "-c", "import json, sys; print(json.dumps(sys.path))"],
                cwd=work, env=env)
    seen = {os.path.realpath(p) for p in json.loads(proc.stdout)}
    missing = [d for d in _site_dirs() if os.path.realpath(d) not in seen]
    assert not missing, f"the wheel's venv does not see {missing} (sys.executable {sys.executable})"


def test_wheel_ships_packages_and_presets(wheel_venv):
    wheel, *_ = wheel_venv
    names = set(zipfile.ZipFile(wheel).namelist())
    # every subpackage of the source tree (pyproject.toml lists them by hand)
    for init in [*REPO.glob("gan_nas_env/**/__init__.py"), *REPO.glob("agents/**/__init__.py")]:
        rel = init.relative_to(REPO).as_posix()
        assert rel in names, f"{rel} is missing from the wheel: add its package to " \
                             "[tool.setuptools] packages in pyproject.toml"
    for yaml_file in [*REPO.glob("configs/*.yaml"), *REPO.glob("configs/agents/*.yaml")]:
        rel = "gan_nas_env/" + yaml_file.relative_to(REPO).as_posix()
        assert rel in names, f"{rel} is missing from the wheel"
    for algo in ALGOS.names():
        assert f"gan_nas_env/configs/agents/{algo}.yaml" in names


def test_wheel_install_makes_env_and_finds_presets(wheel_venv):
    _, venv, work, env = wheel_venv
    script = textwrap.dedent("""
        import json
        import gymnasium as gym
        import gan_nas_env
        from agents.hyperparams import load_hyperparams
        from agents.registry import ALGOS
        from gan_nas_env.config import preset_names
        from gan_nas_env.resources import CONFIG_DIR
        env = gym.make("GANCellSearch-v0", evaluator="fake")
        obs, _ = env.reset(seed=0)
        print(json.dumps({
            "shape": list(obs.shape),
            "file": gan_nas_env.__file__,
            "config_dir": str(CONFIG_DIR),
            "presets": preset_names(),
            "hyperparams": {a: len(load_hyperparams(a)) for a in ALGOS.names()},
        }))
    """)
    proc = _run([str(venv / "bin" / "python"), "-c", script], cwd=work, env=env)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    venv_dir = venv.resolve()
    # the venv's wheel wins over the machine's editable install of this checkout
    assert Path(info["file"]).resolve().is_relative_to(venv_dir), info["file"]
    assert Path(info["config_dir"]).resolve().is_relative_to(venv_dir), info["config_dir"]
    assert not Path(info["file"]).resolve().is_relative_to(REPO)
    assert info["shape"] and info["shape"][0] > 0
    assert {"quickstart", "tiny"} <= set(info["presets"])
    assert all(n > 0 for n in info["hyperparams"].values()), info["hyperparams"]


def test_wheel_install_cli_help_and_search(wheel_venv):
    _, venv, work, env = wheel_venv
    gan_nas = venv / "bin" / "gan-nas"
    assert gan_nas.exists()
    _run([str(gan_nas), "--help"], cwd=work, env=env, timeout=60)
    out = work / "search-out"
    _run([str(gan_nas), "search", "--config", "tiny", "--episodes", "1", "--out", str(out),
          "--no-progress"], cwd=work, env=env)
    top = out / "top_architectures.json"
    assert top.is_file()
    assert json.loads(top.read_text())


def test_every_algorithm_has_its_yaml():
    for algo in ALGOS.names():
        assert (hyperparams.AGENT_CONFIG_DIR / f"{algo}.yaml").is_file(), algo
        assert load_hyperparams(algo)


def test_missing_agent_yaml_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(hyperparams, "AGENT_CONFIG_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"sac\.yaml"):
        load_hyperparams("sac")
