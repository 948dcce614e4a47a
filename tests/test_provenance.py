"""gan_nas_env.provenance: a "+dirty" commit names the files that were uncommitted."""

import shutil
import subprocess

import pytest

from gan_nas_env import provenance as prov

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository of two committed files, standing in for the project's."""
    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    git("init", "-q")
    for name in ("a.json", "b.py"):
        (tmp_path / name).write_text("0\n")
    git("add", ".")
    git("commit", "-qm", "first")
    monkeypatch.setattr(prov, "ROOT", tmp_path)
    monkeypatch.delenv("GAN_NAS_GIT_SHA", raising=False)
    return tmp_path


def test_a_clean_tree_has_no_dirty_files(repo):
    record = prov.provenance(["x"])
    assert not record["git_sha"].endswith("+dirty") and "dirty_files" not in record


def test_a_dirty_tree_names_its_changed_tracked_files_only(repo):
    (repo / "a.json").write_text("1\n")
    (repo / "new.txt").write_text("untracked\n")  # untracked files do not make a tree dirty
    record = prov.provenance(["x"])
    assert record["git_sha"].endswith("+dirty") and record["dirty_files"] == ["a.json"]
    (repo / "b.py").write_text("1\n")
    assert prov.dirty_files(limit=1) == ["a.json", "... 1 more"]


def test_a_sha_given_by_the_environment_lists_nothing(repo, monkeypatch):
    (repo / "a.json").write_text("1\n")
    monkeypatch.setenv("GAN_NAS_GIT_SHA", "abc+dirty")
    assert prov.git_sha() == "abc+dirty" and prov.dirty_files() == []
