"""Provenance kept with every result: which commit made it."""

from __future__ import annotations

from gsasrec.io import git_commit


def test_git_commit_names_a_copied_tree_without_judging_its_state(monkeypatch):
    monkeypatch.setenv("GSASREC_GIT_COMMIT", "abc1234")
    assert git_commit() == {"git_commit": "abc1234", "git_dirty": None}
    monkeypatch.delenv("GSASREC_GIT_COMMIT")
    found = git_commit()  # this checkout: a full hash and a yes/no (None without git)
    assert found["git_commit"] is None or len(found["git_commit"]) == 40
    assert found["git_dirty"] in (True, False, None)
