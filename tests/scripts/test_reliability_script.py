"""scripts/reliability.py: how it judges a case, its report, and its part selection.

The full run (every hostile case, kills, a full disk) takes about 18 minutes and is run
by hand (docs/reliability.md); here the judging runs on two real bad command lines.
"""

import json
from types import SimpleNamespace

import pytest


@pytest.fixture(scope="module")
def rel(load_script):
    return load_script("reliability")


def test_bad_input_judges_exit_message_traceback_and_files(rel, tmp_path, monkeypatch):
    groups = {"toy": {
        "right message": (["toy", "--steps", "0", "--out", "t"], "--steps"),
        "wrong fragment": (["toy", "--steps", "0", "--out", "t"], "a message it does not print"),
        "no error at all": (["toy", "--steps", "5", "--out", "t"], "anything"),
    }}
    fake = SimpleNamespace(CLI_GROUPS=groups, make_files=lambda root: (root / "f").write_text("x"),
                           api_cases=lambda: {"api ok": (lambda p: int("x"), ValueError, "invalid literal"),
                                               "api wrong type": (lambda p: int("x"), KeyError, "invalid")})
    monkeypatch.setattr(rel, "_catalogue", lambda: fake)
    cases = {c["case"]: c for c in rel.bad_input(tmp_path, lambda s: None)}
    assert cases["right message"]["ok"] is True and cases["right message"]["rc"] == 2
    assert cases["wrong fragment"]["ok"] is False
    ok_run = cases["no error at all"]
    assert ok_run["ok"] is False and ok_run["rc"] == 0 and "t" in ok_run["written"]
    assert cases["api ok"]["ok"] is True and cases["api wrong type"]["ok"] is False


def test_api_cases_by_class_and_cases_that_must_not_raise(rel, tmp_path, monkeypatch):
    def writes(p):
        (p / "new").write_text("x")
        raise ValueError("refused, but wrote a file first")

    groups = {"tables": {"refused": (lambda p: {}["k"], KeyError, "k"),
                         "refused after writing": (writes, ValueError, "refused")},
              "wrappers": {"returns": (lambda p: None, None, ""),
                           "raises although it must not": (lambda p: int("x"), None, "")}}
    fake = SimpleNamespace(CLI_GROUPS={}, make_files=lambda root: None, api_groups=lambda: groups)
    monkeypatch.setattr(rel, "_catalogue", lambda: fake)
    cases = {c["case"]: c for c in rel.bad_input(tmp_path, lambda s: None)}
    assert cases["refused"]["class"] == "bad input: tables" and cases["refused"]["ok"] is True
    assert cases["refused after writing"]["ok"] is False and cases["refused after writing"]["written"] == ["new"]
    assert cases["returns"]["class"] == "bad input: wrappers" and cases["returns"]["ok"] is True
    assert cases["returns"]["expected"] == "runs without an error, nothing written"
    bad = cases["raises although it must not"]
    assert bad["ok"] is False and bad["raised"] == "ValueError"
    md = rel.report({"parts": {"bad-input": _part(list(cases.values()))}})
    assert "| bad input: wrappers | 2 | 1 | 1 | 0 |" in md and "| returned |" in md


def _part(cases):
    return {"cases": cases, "wall_s": 3.0, "provenance": {
        "machine": {"cpu": "Test CPU", "cores": 2, "gpu": None}, "version": "0.0",
        "git_sha": "abc", "date": "today", "command": ["scripts/reliability.py"]}}


def test_report_counts_by_class_and_hides_the_temporary_folder(rel):
    data = {"parts": {
        "run-folder": _part([
            {"class": "kept", "case": "a", "expected": "exit 2", "rc": 2, "traceback": False,
             "message": "gan-nas search: error: /tmp/reliability-run-folder-ab_12/case-0 holds a run "
                        "(/tmp/gan-nas-bad-inputs-x_1/trained)",
             "ok": True},
            {"class": "kept", "case": "b | c", "expected": "exit 2", "rc": 1, "traceback": True,
             "written": ["x"], "message": "boom", "ok": False}]),
        "kills": _part([{"class": "disk full", "case": "d", "expected": "exit 4", "rc": None,
                         "message": "not run: no tmpfs", "ok": None}])}}
    md = rel.report(data)
    assert "| kept | 2 | 1 | 1 | 0 |" in md and "| disk full | 1 | 0 | 0 | 1 |" in md
    assert "| **all** | **3** | **1** | **1** | **1** |" in md
    assert "/tmp/reliability" not in md and "$TMP/case-0 holds a run ($TMP/trained)" in md
    assert "b \\| c" in md and "exit 1, traceback, wrote x" in md and "**NO**" in md


def test_report_only_and_unknown_parts(rel, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rel, "JSON_PATH", tmp_path / "r.json")
    monkeypatch.setattr(rel, "MD_PATH", tmp_path / "r.md")
    monkeypatch.setattr(rel, "ROOT", tmp_path)
    with pytest.raises(SystemExit):
        rel.main(["--parts", "kills,nope"])
    assert "unknown part(s) nope" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
    (tmp_path / "r.json").write_text(json.dumps({"parts": {"kills": _part([])}}))
    assert rel.main(["--report"]) == 0
    assert "## kills" in (tmp_path / "r.md").read_text()
