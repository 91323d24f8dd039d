"""The code state of an experiment: commit, branch, remote and uncommitted changes.

`capture_git_state` records what the original yanex recorded under "git" in
metadata.json, and the output of `git diff HEAD` (staged and unstaged changes to
tracked files; untracked files are not included) as the patch that `write_patch`
saves as `artifacts/git_diff.patch`. The patch is scanned for secrets and its size
checked; what a user should know comes back as `warnings`, never as an exception:
a script outside any repository, a repository without commits or a machine without
git still runs, with every git field None.

GitPython is imported on first use, not with yanex. Its import alone starts `git
version` twice; after that a capture runs two git commands (`git show -s` for the
commit, `git diff HEAD` for the patch) and reads branch and remote from the
repository's files.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from yanex.core.jsonfile import write_bytes
from yanex.core.secrets import scan_patch
from yanex.core.store import ARTIFACTS_DIR, PATCH_FILE

if TYPE_CHECKING:
    from git import Repo

MEBIBYTE = 1024 * 1024
PATCH_WARNING_BYTES = MEBIBYTE  # the original warned above 1 MB
MAX_LISTED_SECRETS = 5

METADATA_KEYS = (
    "commit_hash",
    "commit_hash_short",
    "branch",
    "author",
    "committed_date",
    "message",
    "remote_url",
    "repo_path",
    "has_uncommitted_changes",
    "patch_file",
    "patch_size_bytes",
    "patch_size_mb",
    "patch_has_secrets",
    "patch_secret_count",
    "patch_secrets",
)

_COMMIT_FORMAT = "%H%x00%an%x00%cI%x00%B"  # NUL cannot occur in any of the fields
_DIFF_OPTIONS = (
    # Pin what user configuration could change: the patch must stay a plain,
    # applicable diff with a/ and b/ prefixes.
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


@dataclass
class GitState:
    """What `capture_git_state` found: the "git" metadata, the patch, and warnings.

    `metadata` always has every key of METADATA_KEYS; outside a repository they are
    all None except `has_uncommitted_changes`, which is False. `patch` is the text of
    `git diff HEAD`, "" when there is nothing uncommitted. `warnings` are messages for
    the user (secrets found, a large patch, git missing); they never quote a secret.
    """

    metadata: dict[str, Any]
    patch: str = ""
    warnings: list[str] = field(default_factory=list)


def empty_metadata() -> dict[str, Any]:
    """The "git" metadata of a run outside any repository: every field None."""
    metadata: dict[str, Any] = dict.fromkeys(METADATA_KEYS)
    metadata["has_uncommitted_changes"] = False
    return metadata


def capture_git_state(path: Path, *, scan_secrets: bool = True) -> GitState:
    """Record the repository that contains `path` (a script's directory, or the cwd).

    Never raises for git reasons: outside a repository, in one without commits, or
    without a git executable it returns the all-None state (with a warning where the
    user can do something about it). `scan_secrets=False` leaves the secret fields
    None so that a caller can run `record_secret_scan` later, off the critical path.
    """
    directory = path.parent if os.path.isfile(path) else path  # isfile never raises
    if not _inside_work_tree(directory):
        return GitState(empty_metadata())  # without importing GitPython (50-90 ms)
    try:
        import git
    except ImportError as error:  # GitPython refuses to import without a git executable
        return GitState(empty_metadata(), warnings=[_import_failure(error)])
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return GitState(empty_metadata())
    except (git.GitError, OSError) as error:
        message = f"could not open the git repository of {directory}: {error}"
        return GitState(empty_metadata(), warnings=[message])
    with repo:  # closing stops any git process GitPython left running
        state = _read_repository(repo)
    if scan_secrets:
        record_secret_scan(state)
    return state


def record_secret_scan(state: GitState) -> None:
    """Scan `state.patch` for secrets; fill the patch_*secret* fields and add warnings.

    When the scan cannot run (too many added lines, detect-secrets failing), the fields
    stay None, meaning unknown, and a warning says so.
    """
    if not state.patch:
        return
    failures: list[str] = []
    findings = scan_patch(state.patch, failures=failures)
    state.warnings.extend(failures)
    if failures:
        return  # unknown: the secret fields stay None
    state.metadata.update(
        patch_has_secrets=bool(findings),
        patch_secret_count=len(findings),
        patch_secrets=findings,
    )
    if findings:
        state.warnings.append(_secrets_warning(findings))


def write_patch(state: GitState, artifacts_dir: Path) -> None:
    """Save the patch as `artifacts_dir/git_diff.patch` (atomically); nothing if it is empty."""
    if not state.patch:
        return
    target = artifacts_dir / PATCH_FILE
    # Bytes, not text: surrogateescape gives back any non-UTF-8 bytes git printed,
    # so the saved file applies exactly as `git diff HEAD` would have.
    write_bytes(target, state.patch.encode("utf-8", "surrogateescape"))


def strip_credentials(url: str | None) -> str | None:
    """A remote URL without the secrets that can hide in it.

    http(s) URLs lose their whole user-info part, since a token is often passed as
    the user name (`https://user:token@github.com/x/y.git` and
    `https://ghp_abc@github.com/x/y.git` both become `https://github.com/x/y.git`).
    Other URLs (`ssh://`, `git://`, `file://`) keep a user name, which is not a
    secret, but lose any password (`ssh://git:pw@host/x` -> `ssh://git@host/x`).
    scp-like addresses (`git@github.com:x/y.git`) and local paths are returned as they
    are, except that a `user:password@` prefix loses its password.
    """
    if not url:
        return url
    if "://" not in url:
        userinfo, at, rest = url.partition("@")
        if at and ":" in userinfo and "/" not in userinfo:
            return f"{userinfo.split(':', 1)[0]}@{rest}"
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 host: keep nothing that could be a secret
        return None
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url
    if parts.scheme.lower() in ("http", "https"):
        netloc = host
    else:
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{host}" if user else host
    return urlunsplit(parts._replace(netloc=netloc))


def _inside_work_tree(directory: Path) -> bool:
    """Whether `directory` or a parent holds a `.git` (directory, or file for worktrees)."""
    try:
        start = directory.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return False
    return any(os.path.lexists(os.path.join(p, ".git")) for p in (start, *start.parents))


def _read_repository(repo: Repo) -> GitState:
    import git

    if repo.working_tree_dir is None:  # a bare repository holds no script
        return GitState(empty_metadata())
    try:
        return _read_state(repo)
    except git.GitCommandNotFound:
        return GitState(empty_metadata(), warnings=[_git_missing()])
    except git.GitCommandError as error:
        return GitState(empty_metadata(), warnings=[_unreadable(repo, error)])
    except (git.GitError, OSError, ValueError) as error:
        message = f"could not read the git repository at {repo.working_tree_dir}: {error}"
        return GitState(empty_metadata(), warnings=[message])


def _read_state(repo: Repo) -> GitState:
    commit = repo.git.show("-s", "--no-show-signature", f"--format={_COMMIT_FORMAT}", "HEAD", "--")
    commit_hash, author, committed_date, message = commit.split("\x00", 3)
    patch = repo.git.diff("HEAD", *_DIFF_OPTIONS, "--", strip_newline_in_stdout=False)
    metadata = empty_metadata()
    metadata.update(
        commit_hash=commit_hash,
        commit_hash_short=commit_hash[:8],
        branch=_branch(repo),
        author=author,
        committed_date=committed_date,
        message=message.strip(),
        remote_url=strip_credentials(_remote_url(repo)),
        repo_path=str(repo.working_tree_dir),
    )
    state = GitState(metadata, patch=patch)
    _record_patch(state)
    return state


def _record_patch(state: GitState) -> None:
    size = len(state.patch.encode("utf-8", "surrogateescape"))
    state.metadata.update(
        has_uncommitted_changes=bool(state.patch),
        patch_file=f"{ARTIFACTS_DIR}/{PATCH_FILE}" if state.patch else None,
        patch_size_bytes=size,
        patch_size_mb=round(size / MEBIBYTE, 2),
    )
    if not state.patch:
        state.metadata.update(patch_has_secrets=False, patch_secret_count=0, patch_secrets=[])
    if size > PATCH_WARNING_BYTES:
        state.warnings.append(
            f"the uncommitted changes are {size / MEBIBYTE:.1f} MB (git diff HEAD), more than "
            "the 1 MB stored comfortably with every experiment; commit them, or stop tracking "
            "large generated files"
        )


def _branch(repo: Repo) -> str | None:
    try:
        return str(repo.head.reference.name)  # reads .git/HEAD: no git process
    except TypeError:  # detached HEAD
        return None


def _remote_url(repo: Repo) -> str | None:
    remotes = repo.remotes
    if not remotes:
        return None
    remote = remotes["origin"] if "origin" in remotes else remotes[0]
    try:
        return str(remote.url)
    except Exception:  # a remote section without url: configparser's errors vary
        return None


def _secrets_warning(findings: list[dict[str, Any]]) -> str:
    listed = ", ".join(
        f"{f['type']} in {f['file']} line {f['line']}" for f in findings[:MAX_LISTED_SECRETS]
    )
    more = len(findings) - MAX_LISTED_SECRETS
    if more > 0:
        listed += f" and {more} more"
    return (
        f"potential secrets in the uncommitted changes: {listed} (the patch is saved in the "
        "experiment as artifacts/git_diff.patch; review it before sharing)"
    )


def _unreadable(repo: Repo, error: Exception) -> str:
    try:
        has_commits = repo.head.is_valid()
    except Exception:  # we are already reporting a failure; this only picks its words
        has_commits = True
    if not has_commits:
        return (
            f"the git repository at {repo.working_tree_dir} has no commits yet, so the code "
            "state is not recorded; commit once to record it"
        )
    detail = str(getattr(error, "stderr", "")).strip().removeprefix("stderr:").strip(" '\n")
    return (
        f"could not read the git state of {repo.working_tree_dir}"
        f"{': ' + detail if detail else ''}; the code state is not recorded"
    )


def _git_missing() -> str:
    executable = os.environ.get("GIT_PYTHON_GIT_EXECUTABLE", "git")
    return (
        f"the git executable ({executable}) was not found, so the code state (commit, "
        "uncommitted changes) is not recorded; install git or put it on PATH"
    )


def _import_failure(error: ImportError) -> str:
    if shutil.which(os.environ.get("GIT_PYTHON_GIT_EXECUTABLE", "git")) is None:
        return _git_missing()
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    return f"GitPython could not be imported ({first_line}); the code state is not recorded"
