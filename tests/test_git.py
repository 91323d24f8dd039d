"""Code state capture: real git repositories in tmp_path, real detect-secrets scans."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yanex.core.git import (
    METADATA_KEYS,
    GitState,
    capture_git_state,
    empty_metadata,
    record_secret_scan,
    strip_credentials,
    write_patch,
)
from yanex.core.secrets import added_lines, scan_patch

SECRET = "hunter2hunter2hunter2"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No system or user git configuration leaks into the test repositories."""
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return result.stdout


def make_repo(path: Path, files: dict[str, str] | None = None, message: str = "init") -> Path:
    """A repository with one commit of `files` (default: a small script) on branch main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Ada Lovelace")
    git(path, "config", "user.email", "ada@example.com")
    git(path, "config", "commit.gpgsign", "false")
    for name, text in (files or {"train.py": "print('hello')\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return path


def assert_all_none(state: GitState) -> None:
    assert state.metadata == empty_metadata()
    assert state.patch == ""
    assert all(state.metadata[k] is None for k in METADATA_KEYS if k != "has_uncommitted_changes")
    assert state.metadata["has_uncommitted_changes"] is False


# -- clean and dirty repositories --------------------------------------------------------


def test_clean_repository_records_the_commit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", message="init\n\nwith a body")
    state = capture_git_state(repo)
    meta = state.metadata
    head = git(repo, "rev-parse", "HEAD").strip()
    assert list(meta) == list(METADATA_KEYS)
    assert meta["commit_hash"] == head
    assert meta["commit_hash_short"] == head[:8]
    assert meta["branch"] == "main"
    assert meta["author"] == "Ada Lovelace"
    assert meta["message"] == "init\n\nwith a body"
    committed = datetime.fromisoformat(meta["committed_date"])
    assert committed.tzinfo is not None
    assert committed.timestamp() == int(git(repo, "show", "-s", "--format=%ct").strip())
    assert meta["remote_url"] is None
    assert meta["repo_path"] == str(repo.resolve())
    assert meta["has_uncommitted_changes"] is False
    assert meta["patch_file"] is None
    assert (meta["patch_size_bytes"], meta["patch_size_mb"]) == (0, 0.0)
    assert (meta["patch_has_secrets"], meta["patch_secret_count"], meta["patch_secrets"]) == (
        False,
        0,
        [],
    )
    assert state.patch == ""
    assert state.warnings == []
    json.dumps(meta)


def test_capture_from_a_subdirectory_or_a_script_path(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"src/pkg/train.py": "x = 1\n"})
    head = git(repo, "rev-parse", "HEAD").strip()
    from_directory = capture_git_state(repo / "src" / "pkg")
    from_file = capture_git_state(repo / "src" / "pkg" / "train.py")
    assert from_directory.metadata["commit_hash"] == head
    assert from_file.metadata == from_directory.metadata


def test_branch_names_with_slashes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "-b", "feature/faster-loader")
    assert capture_git_state(repo).metadata["branch"] == "feature/faster-loader"


def test_dirty_repository_records_and_saves_an_applicable_patch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"train.py": "lr = 0.1\nepochs = 3\n"})
    (repo / "train.py").write_text("lr = 0.01\nepochs = 3\nprint('changed')\n")
    state = capture_git_state(repo)
    meta = state.metadata
    assert meta["has_uncommitted_changes"] is True
    assert meta["patch_file"] == "artifacts/git_diff.patch"
    assert "+lr = 0.01" in state.patch and "-lr = 0.1" in state.patch
    assert meta["patch_size_bytes"] == len(state.patch.encode())
    assert meta["patch_size_mb"] == round(meta["patch_size_bytes"] / 2**20, 2) == 0.0
    assert (meta["patch_has_secrets"], meta["patch_secret_count"]) == (False, 0)
    assert state.warnings == []

    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    write_patch(state, artifacts)
    saved = artifacts / "git_diff.patch"
    assert saved.read_text() == state.patch
    assert [p.name for p in artifacts.iterdir()] == ["git_diff.patch"]  # no temp file left

    copy = tmp_path / "copy"
    git(tmp_path, "clone", "-q", str(repo), str(copy))
    git(copy, "apply", str(saved))
    assert (copy / "train.py").read_text() == (repo / "train.py").read_text()


def test_staged_only_change_is_in_the_patch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "train.py").write_text("print('staged')\n")
    git(repo, "add", "train.py")
    state = capture_git_state(repo)
    assert state.metadata["has_uncommitted_changes"] is True
    assert "+print('staged')" in state.patch


def test_untracked_files_are_not_in_the_patch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "notes.txt").write_text(f"password = '{SECRET}'\n")
    state = capture_git_state(repo)
    assert state.patch == ""
    assert state.metadata["has_uncommitted_changes"] is False
    assert state.metadata["patch_file"] is None


def test_non_utf8_changes_are_saved_byte_for_byte(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"names.txt": "plain\n"})
    (repo / "names.txt").write_bytes("caf\xe9 na\xefve\n".encode("latin-1"))
    state = capture_git_state(repo)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    write_patch(state, artifacts)
    raw = subprocess.run(
        ["git", "diff", "HEAD", "--no-color"], cwd=repo, check=True, capture_output=True
    ).stdout
    assert (artifacts / "git_diff.patch").read_bytes() == raw
    assert state.metadata["patch_size_bytes"] == len(raw)


def test_write_patch_writes_nothing_for_a_clean_state(tmp_path: Path) -> None:
    write_patch(GitState(empty_metadata()), tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- no repository, no commits, detached HEAD, remotes -----------------------------------


def test_outside_a_repository_every_field_is_none(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    state = capture_git_state(plain)
    assert_all_none(state)
    assert state.warnings == []


def test_a_missing_directory_is_not_an_error(tmp_path: Path) -> None:
    assert_all_none(capture_git_state(tmp_path / "does-not-exist"))


def test_a_repository_without_commits_gives_none_and_says_why(tmp_path: Path) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "train.py").write_text("x = 1\n")
    state = capture_git_state(repo)
    assert_all_none(state)
    assert len(state.warnings) == 1 and "no commits yet" in state.warnings[0]


def test_detached_head_has_no_branch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "train.py").write_text("print('second')\n")
    git(repo, "commit", "-q", "-am", "second")
    git(repo, "checkout", "-q", "--detach", first)
    meta = capture_git_state(repo).metadata
    assert meta["branch"] is None
    assert meta["commit_hash"] == first
    assert meta["message"] == "init"


def test_remote_url_is_recorded_without_credentials(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "remote", "add", "backup", "git@example.com:lab/backup.git")
    git(repo, "remote", "add", "origin", "https://ada:s3cr3t-token@github.com/lab/model.git")
    state = capture_git_state(repo)
    assert state.metadata["remote_url"] == "https://github.com/lab/model.git"
    assert "s3cr3t-token" not in json.dumps(state.metadata)


def test_without_origin_the_first_remote_is_recorded(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "remote", "add", "upstream", "git@github.com:lab/model.git")
    assert capture_git_state(repo).metadata["remote_url"] == "git@github.com:lab/model.git"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:token@github.com/x/y.git", "https://github.com/x/y.git"),
        ("https://ghp_abcdef@github.com/x/y.git", "https://github.com/x/y.git"),
        ("HTTP://u:p@[::1]:8080/x", "http://[::1]:8080/x"),
        ("https://github.com/x/y.git", "https://github.com/x/y.git"),
        ("ssh://git@host.example/x/y.git", "ssh://git@host.example/x/y.git"),
        ("ssh://git:pw@host.example:2222/x", "ssh://git@host.example:2222/x"),
        ("git@github.com:x/y.git", "git@github.com:x/y.git"),
        ("user:pw@host:x/y.git", "user@host:x/y.git"),
        ("/srv/git/a@b/repo.git", "/srv/git/a@b/repo.git"),
        ("file:///srv/git/repo.git", "file:///srv/git/repo.git"),
        (None, None),
        ("", ""),
    ],
)
def test_strip_credentials(url: str | None, expected: str | None) -> None:
    assert strip_credentials(url) == expected


def test_git_executable_missing_does_not_crash(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "train.py").write_text("print('dirty')\n")
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin)}
    env.pop("GIT_PYTHON_GIT_EXECUTABLE", None)
    code = (
        "import json, sys; from pathlib import Path; "
        "from yanex.core.git import capture_git_state; "
        "s = capture_git_state(Path(sys.argv[1])); "
        "print(json.dumps({'metadata': s.metadata, 'patch': s.patch, 'warnings': s.warnings}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(repo)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    captured = json.loads(result.stdout)
    assert captured["metadata"] == empty_metadata()
    assert captured["patch"] == ""
    assert len(captured["warnings"]) == 1 and "git executable" in captured["warnings"][0]


def test_gitpython_and_detect_secrets_load_only_when_needed(tmp_path: Path) -> None:
    clean = make_repo(tmp_path / "repo")
    plain = tmp_path / "plain"
    plain.mkdir()
    code = (
        "import sys; from pathlib import Path; import yanex.core.git as g; "
        "loaded = lambda: ('git' in sys.modules, 'detect_secrets' in sys.modules); "
        "print(loaded()); g.capture_git_state(Path(sys.argv[1])); print(loaded()); "
        "g.capture_git_state(Path(sys.argv[2])); print(loaded())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(plain), str(clean)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split("\n")[:3] == [
        "(False, False)",  # importing the module loads neither
        "(False, False)",  # outside a repository GitPython is not needed
        "(True, False)",  # a clean repository has no patch to scan
    ]


# -- secrets and size ---------------------------------------------------------------------


def test_secret_in_the_diff_is_reported_without_its_value(tmp_path: Path) -> None:
    original = "".join(f"line_{i} = {i}\n" for i in range(1, 11))
    repo = make_repo(tmp_path / "repo", {"src/config.py": original, "README.md": "hi\n"})
    lines = original.splitlines(keepends=True)
    lines.insert(1, "extra = 2\n")  # shifts everything below by one
    lines[6] = f'password = "{SECRET}"\n'  # new line 7, replacing old line 6
    lines.append(f'aws_key = "{AWS_KEY}"\n')  # new line 12
    (repo / "src" / "config.py").write_text("".join(lines))
    (repo / "README.md").write_text("hi\nno secrets here\n")

    state = capture_git_state(repo)
    meta = state.metadata
    assert meta["patch_secrets"] == [
        {"type": "Secret Keyword", "file": "src/config.py", "line": 7},
        {"type": "AWS Access Key", "file": "src/config.py", "line": 12},
    ]
    assert (meta["patch_has_secrets"], meta["patch_secret_count"]) == (True, 2)
    assert len(state.warnings) == 1
    assert "Secret Keyword in src/config.py line 7" in state.warnings[0]
    assert "AWS Access Key in src/config.py line 12" in state.warnings[0]
    recorded = json.dumps(meta) + json.dumps(state.warnings)
    assert SECRET not in recorded and AWS_KEY not in recorded


def test_scan_can_be_deferred(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "train.py").write_text(f'password = "{SECRET}"\n')
    state = capture_git_state(repo, scan_secrets=False)
    assert state.metadata["patch_has_secrets"] is None
    assert state.metadata["patch_secrets"] is None
    assert state.warnings == []
    record_secret_scan(state)
    assert state.metadata["patch_secret_count"] == 1
    assert state.metadata["patch_secrets"][0]["line"] == 1


def test_a_patch_over_one_megabyte_warns(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"data.csv": "a,b\n"})
    row = "0123456789," * 5
    (repo / "data.csv").write_text("".join(f"{i},{row}\n" for i in range(20_000)))
    state = capture_git_state(repo)
    meta = state.metadata
    assert meta["patch_size_bytes"] > 2**20
    assert meta["patch_size_mb"] == round(meta["patch_size_bytes"] / 2**20, 2) > 1.0
    assert any("MB" in w and "1 MB" in w for w in state.warnings)
    # Too many lines to scan in reasonable time: unknown, and the user is told so.
    assert any("too many to scan" in w for w in state.warnings)
    assert meta["patch_has_secrets"] is None and meta["patch_secret_count"] is None


def test_scan_patch_limits_and_empty_input() -> None:
    patch = "--- a/f.py\n+++ b/f.py\n@@ -0,0 +1,3 @@\n+a = 1\n+b = 2\n+c = 3\n"
    failures: list[str] = []
    assert scan_patch(patch, failures=failures, max_lines=2) == []
    assert len(failures) == 1 and "3 lines" in failures[0]
    assert scan_patch("") == []
    assert scan_patch("diff --git a/x b/x\ndeleted file mode 100644\n") == []


# -- reading added lines from a diff --------------------------------------------------------


def test_added_lines_follow_hunk_headers() -> None:
    patch = "\n".join(
        [
            "diff --git a/a.py b/a.py",
            "--- a/a.py",
            "+++ b/a.py",
            "@@ -1,3 +1,4 @@",
            " one",
            "-two",
            "+TWO",
            "+++ not a header, an added line starting with ++",
            " three",
            "@@ -10,2 +11,2 @@ def f():",
            " ten",
            "-eleven",
            "+ELEVEN",
            "\\ No newline at end of file",
            "diff --git a/gone.py b/gone.py",
            "deleted file mode 100644",
            "--- a/gone.py",
            "+++ /dev/null",
            "@@ -1 +0,0 @@",
            "-bye",
            'diff --git "a/\\303\\244 b.txt" "b/\\303\\244 b.txt"',
            '--- "a/\\303\\244 b.txt"',
            '+++ "b/\\303\\244 b.txt"',
            "@@ -0,0 +1 @@",
            "+hello",
            "diff --git a/with space.py b/with space.py",
            "--- a/with space.py\t",
            "+++ b/with space.py\t",
            "@@ -1 +1 @@",
            "-x",
            "+y",
            "",
        ]
    )
    assert added_lines(patch) == {
        "a.py": [
            (2, "TWO"),
            (3, "++ not a header, an added line starting with ++"),
            (12, "ELEVEN"),
        ],
        "ä b.txt": [(1, "hello")],
        "with space.py": [(1, "y")],
    }


line_text = st.sampled_from(["x", "y = 1", "", "++ z", "-- w", "@@ -1 +1 @@", "+", "-"])


@settings(max_examples=200, deadline=None)
@given(old=st.lists(line_text, max_size=30), new=st.lists(line_text, max_size=30))
def test_added_lines_point_at_the_new_file(old: list[str], new: list[str]) -> None:
    diff = difflib.unified_diff(old, new, "a/f.txt", "b/f.txt", lineterm="", n=2)
    rows = list(diff)
    found = added_lines("\n".join(rows) + "\n").get("f.txt", [])
    for number, text in found:
        assert new[number - 1] == text
    added_rows = [r for r in rows[2:] if r.startswith("+")]
    assert len(found) == len(added_rows)
