"""scripts/seed_comparison.py end to end at a smoke budget: every run in the JSON, with its
provenance, and only the generated part of the page rewritten."""

import json


def test_writes_every_run_with_provenance_and_only_the_marked_part(load_script, tmp_path):
    script = load_script("seed_comparison")
    doc, out = tmp_path / "seeds.md", tmp_path / "runs.json"
    doc.write_text("# hand-written\n<!-- seed_comparison:results -->\nold\n<!-- /seed_comparison:results -->\n## Discussion\nkept\n")
    assert script.main(["--seeds", "1", "--steps", "20", "--plots", "", "--json", str(out), "--doc", str(doc)]) == 0
    res = json.loads(out.read_text())
    assert res["num_runs"] == len(script.EXPERIMENT_A) + len(script.EXPERIMENT_B)
    assert [r["K"] for r in res["b"]] == script.EXPERIMENT_B and all(len(r["runs"]) == 1 for r in res["a"] + res["b"])
    prov = res["provenance"]
    assert prov["machine"]["cpu"] and prov["git_sha"] and "seed_comparison" in " ".join(prov["command"])
    text = doc.read_text()
    assert text.startswith("# hand-written\n") and text.endswith("## Discussion\nkept\n") and "\nold\n" not in text
    assert f"at `{prov['git_sha'][:7]}`" in text and "Tests: need two or more seeds" in text


def test_the_page_is_rendered_again_from_the_committed_runs(load_script, tmp_path):
    """``--from-json``: the committed page's results (tables and tests) are its JSON's, trained again by no one."""
    from gan_nas_env.provenance import ROOT

    script = load_script("seed_comparison")
    committed = (ROOT / "docs/seeds.md").read_text()
    page = tmp_path / "seeds.md"
    page.write_text(committed)
    assert script.main(["--from-json", str(ROOT / "docs/seeds/seed_comparison.json"), "--doc", str(page)]) == 0
    assert page.read_text() == committed
    assert "- mog5, RpGAN vs NS: modes covered p = " in committed
