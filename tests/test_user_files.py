"""gan_nas_env.user_files: JSON files named on a command line."""

import pytest

from gan_nas_env.errors import MissingFileError, UserError
from gan_nas_env.user_files import read_json_file


def test_reads_json_and_names_the_option_in_every_error(tmp_path):
    good = tmp_path / "good.json"
    good.write_text('{"rows": [1, 2]}')
    assert read_json_file(good, "--rows") == {"rows": [1, 2]}
    with pytest.raises(MissingFileError, match="--rows .*missing.json: no such file"):
        read_json_file(tmp_path / "missing.json", "--rows")
    with pytest.raises(UserError, match="--rows .* is a folder"):
        read_json_file(tmp_path, "--rows")
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": [1, 2]\n')
    with pytest.raises(UserError, match="--rows .*bad.json is not JSON \\(line 2, column 1"):
        read_json_file(bad, "--rows")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UserError, match="cannot be read|is not JSON"):
        read_json_file(binary, "--rows")


def test_run_main_turns_a_user_error_into_status_2_and_keeps_bugs(capsys):
    from gan_nas_env.user_files import run_main

    def bad_input():
        read_json_file("/nonexistent/rows.json", "--finals")

    assert run_main(bad_input, "tool") == 2
    assert capsys.readouterr().err == "tool: error: --finals /nonexistent/rows.json: no such file\n"
    assert run_main(lambda: None, "tool") == 0 and run_main(lambda: 1, "tool") == 1

    def bug():
        raise KeyError("rows")

    with pytest.raises(KeyError):
        run_main(bug, "tool")


def test_output_files_are_checked_before_the_work(tmp_path, capsys):
    import argparse

    from gan_nas_env.user_files import check_output_file, check_outputs

    a_file = tmp_path / "a_file"
    a_file.write_text("")
    check_output_file(None, "--out")  # nothing asked, nothing checked
    check_output_file(a_file, "--out")  # an existing file is overwritten
    check_output_file(tmp_path / "new" / "deeper" / "report.json", "--out")  # folders are made later
    with pytest.raises(UserError, match="--md .* is a folder; name a file"):
        check_output_file(tmp_path, "--md")
    with pytest.raises(UserError, match="cannot create --out .*report.json: .*a_file is a file, not a folder"):
        check_output_file(a_file / "sub" / "report.json", "--out")
    p = argparse.ArgumentParser(prog="tool")
    p.add_argument("--out")
    p.add_argument("--write-fixture")
    check_outputs(p, p.parse_args(["--out", str(a_file)]), "--out", "--write-fixture")
    with pytest.raises(SystemExit) as exc:
        check_outputs(p, p.parse_args(["--write-fixture", str(tmp_path)]), "--out", "--write-fixture")
    assert exc.value.code == 2 and "tool: error: --write-fixture" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
