"""gan_nas_env.doc_blocks: the generated parts of a Markdown page, rewritten without touching its prose."""

from gan_nas_env.doc_blocks import has_block, render_blocks

PAGE = ("# prose\n<!-- fam:a -->\nold a\n<!-- /fam:a -->\nmiddle\n<!-- fam:b-2 -->\nold b\n<!-- /fam:b-2 -->\n"
        "<!-- other:a -->\nkept\n<!-- /other:a -->\nend\n")


def test_only_the_family_blocks_are_rewritten_and_the_changed_ones_named():
    new, changed = render_blocks(PAGE, "fam", lambda name: "old a\n" if name == "a" else f"new {name}")
    assert changed == ["b-2"]  # a's body is unchanged
    assert new == PAGE.replace("old b\n", "new b-2\n")  # a newline added: the marker keeps its own line
    assert render_blocks(new, "fam", lambda name: "old a\n" if name == "a" else "new b-2\n") == (new, [])


def test_a_block_is_found_by_family_and_name_only_when_both_markers_match():
    assert has_block(PAGE, "fam") and has_block(PAGE, "fam", "b-2") and has_block(PAGE, "other", "a")
    assert not has_block(PAGE, "fam", "c") and not has_block(PAGE, "fa")
    assert not has_block("<!-- fam:a -->\nx\n<!-- /fam:b -->\n", "fam")  # unclosed: no block
    assert render_blocks("<!-- fam:a -->\nx\n", "fam", lambda name: "y") == ("<!-- fam:a -->\nx\n", [])
