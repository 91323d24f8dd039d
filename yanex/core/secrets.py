"""Potential secrets in a patch, found by detect-secrets in the lines the patch adds.

A finding names the kind of secret, the file and the line in the new version of the
file; it never carries the secret itself, so findings are safe to store and print.

detect-secrets scans files, not diffs, so each file's added lines are written to a
temporary copy that keeps the file's name (detect-secrets picks its rules by file
extension) and the scanner's line numbers are mapped back through the hunk headers.
"""

from __future__ import annotations

import re
import tempfile
import threading
import warnings
from pathlib import Path, PurePosixPath
from typing import Any

_HUNK_HEADER = re.compile(r"@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}

# detect-secrets keeps its settings in process-wide state: one scan at a time.
_SCAN_LOCK = threading.Lock()

# detect-secrets spends 0.03-0.5 ms on each line (27 plugins, two passes when nothing
# is found): 5000 lines keep the worst case near 3 s at the start of a run.
MAX_SCANNED_LINES = 5000

AddedLines = dict[str, list[tuple[int, str]]]


def scan_patch(
    patch: str, *, failures: list[str] | None = None, max_lines: int = MAX_SCANNED_LINES
) -> list[dict[str, Any]]:
    """Potential secrets in the lines `patch` (a unified diff) adds, sorted by file and line.

    Each finding is `{"type": "Secret Keyword", "file": "config.py", "line": 42}`, with
    `line` counted in the new version of the file. When the patch adds more than
    `max_lines` lines (too slow to scan) or detect-secrets fails, the result is `[]`
    and, if `failures` is given, a message is appended to it instead of an exception
    escaping: a broken scanner must not stop an experiment from running.
    """
    files = added_lines(patch)
    count = sum(len(rows) for rows in files.values())
    if count > max_lines:
        if failures is not None:
            failures.append(
                f"the uncommitted changes add {count} lines, too many to scan for secrets "
                f"(the limit is {max_lines}); review the saved patch before sharing the experiment"
            )
        return []
    if not files:
        return []
    try:
        with _SCAN_LOCK:
            findings = _scan(files)
    except Exception as error:  # third-party scanner: any failure is reported, not raised
        if failures is not None:
            # Only the exception type: its message could quote the scanned line.
            failures.append(
                f"the secret scan of the uncommitted changes failed ({type(error).__name__}); "
                "review the saved patch yourself before sharing the experiment"
            )
        return []
    return sorted(findings, key=lambda f: (f["file"], f["line"], f["type"]))


def added_lines(patch: str) -> AddedLines:
    """The lines a unified diff adds: `{path: [(line number in the new file, text), ...]}`.

    Paths are those of the new version (`+++ b/path`, git's quoting undone); deleted
    files and files whose changes only remove lines do not appear.
    """
    files: AddedLines = {}
    current: list[tuple[int, str]] | None = None
    old_left = new_left = line_number = 0
    for row in patch.split("\n"):
        if old_left > 0 or new_left > 0:  # inside a hunk: counts say where it ends
            tag = row[:1]
            if tag == "+":
                if current is not None:
                    current.append((line_number, row[1:]))
                line_number += 1
                new_left -= 1
            elif tag == "-":
                old_left -= 1
            elif tag != "\\":  # "\ No newline at end of file" counts for neither side
                line_number += 1
                old_left -= 1
                new_left -= 1
            continue
        if row.startswith("diff "):
            current = None
        elif row.startswith("+++ "):
            path = _target_path(row[4:])
            current = None if path is None else files.setdefault(path, [])
        elif header := _HUNK_HEADER.match(row):
            old_left = int(header.group(1) or 1)
            line_number = int(header.group(2))
            new_left = int(header.group(3) or 1)
    return {path: rows for path, rows in files.items() if rows}


def _target_path(field: str) -> str | None:
    name = field.split("\t", 1)[0]  # git appends a tab to names with spaces; diff -u a date
    if name == "/dev/null":
        return None
    name = _unquote(name)
    return name[2:] if name.startswith("b/") else name


def _unquote(name: str) -> str:
    """Undo git's C-style quoting of unusual paths (`"b/\\303\\244.py"` -> `b/ä.py`)."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    body, raw, i = name[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            if following in "01234567":
                raw.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
            raw.append(_C_ESCAPES.get(following, ord(following) & 0xFF))
            i += 2
            continue
        raw += char.encode("utf-8", "surrogateescape")
        i += 1
    return raw.decode("utf-8", "replace")


def _scan(files: AddedLines) -> list[dict[str, Any]]:
    collection_type, default_settings = _detect_secrets()
    findings: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="yanex-secrets-") as root, default_settings():
        for index, (path, rows) in enumerate(files.items()):
            relative = _scratch_name(index, path)
            copy = Path(root, relative)
            copy.parent.mkdir(parents=True, exist_ok=True)
            # A lone \r would split a line when detect-secrets reads the copy back.
            text = "".join(line.replace("\r", " ") + "\n" for _, line in rows)
            copy.write_text(text, encoding="utf-8", errors="replace")
            collection = collection_type(root=root)
            collection.scan_file(relative)
            for found in collection.data.values():
                for secret in found:
                    row = min(max(int(secret.line_number), 1), len(rows)) - 1
                    findings.append({"type": str(secret.type), "file": path, "line": rows[row][0]})
    return findings


def _scratch_name(index: int, path: str) -> str:
    """A path under the scratch directory that keeps `path`'s name but cannot escape it."""
    parts = [p for p in PurePosixPath(path).parts if p not in ("/", ".", "..")]
    return str(PurePosixPath(str(index), *(parts or ["file"])))


def _detect_secrets() -> tuple[Any, Any]:
    # detect-secrets calls logging.captureWarnings(True) when first imported, which
    # would reroute every later warning of this process into logging: undo that.
    showwarning = warnings.showwarning
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings

    if warnings.showwarning is not showwarning:
        import logging

        logging.captureWarnings(False)
    return SecretsCollection, default_settings
