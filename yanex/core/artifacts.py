"""Artifacts: files saved and loaded by extension inside one plain directory.

The run API passes the experiment's `artifacts/` directory (or `./artifacts` in
standalone mode); nothing here knows about experiments.

Formats by extension (what is saved -> what loads back):

    .txt        str
    .csv        pandas DataFrame or list of dicts -> DataFrame; without pandas installed,
                a list of dicts of strings
    .json       JSON values; NaN and infinities are stored as "NaN"/"Infinity" and restored
    .jsonl      list of dicts, one line each
    .npy, .npz  numpy array / dict of arrays (no object dtype: use .pkl for those)
    .pt, .pth   torch.save -> torch.load(weights_only=True) where torch supports it
    .pkl        any picklable object
    .png        matplotlib Figure or PIL Image -> PIL Image, pixels loaded, file closed

Any other extension needs `saver=` / `loader=`. numpy, pandas, torch, matplotlib and PIL
are imported only by the branch that needs them. Every write goes to a hidden temporary
file next to the target (`.<name>.<random>.tmp<ext>`) and is `os.replace`d over it, so a
reader never sees half an artifact; `list_artifacts` skips hidden files.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import importlib
import inspect
import io
import json
import os
import pickle
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from yanex.core.jsonfile import jsonable, restore_floats
from yanex.errors import ArtifactError

_NAME_EXAMPLE = "use a plain relative name like 'model.pt'"
_DATA_HINT = "pip install 'yanex[data]'"
_PLOT_HINT = "pip install 'yanex[plot]'"
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:/")

Saver = Callable[[Any, Path], None]
Loader = Callable[[Path], Any]
_Write = Callable[[Path], object]


def validate_name(name: str) -> str:
    """Return `name` as a normalized relative posix path inside the artifacts directory.

    Backslashes count as separators, so a name means the same on every platform.
    Subdirectories are allowed; anything that is empty, absolute, escapes the directory
    or names a directory raises `ArtifactError`.

    Example: `validate_name("plots/./loss.png") == "plots/loss.png"`.
    """
    if not name or not name.strip():
        raise ArtifactError(f"artifact name is empty; {_NAME_EXAMPLE}")
    if "\0" in name:
        raise ArtifactError(f"artifact name {name!r} contains a NUL byte; {_NAME_EXAMPLE}")
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _WINDOWS_DRIVE.match(posix):
        raise ArtifactError(f"artifact name {name!r} is an absolute path; {_NAME_EXAMPLE}")
    if posix.endswith("/"):
        raise ArtifactError(
            f"artifact name {name!r} names a directory, not a file; "
            "add a file name like 'plots/loss.png'"
        )
    parts: list[str] = []
    for part in posix.split("/"):
        if part in ("", "."):
            continue
        if part != "..":
            parts.append(part)
        elif parts:
            parts.pop()
        else:
            raise ArtifactError(
                f"artifact name {name!r} escapes the artifacts directory; {_NAME_EXAMPLE}"
            )
    if not parts:
        raise ArtifactError(
            f"artifact name {name!r} names the artifacts directory itself; {_NAME_EXAMPLE}"
        )
    return "/".join(parts)


def save_artifact(obj: Any, directory: Path, filename: str, saver: Saver | None = None) -> Path:
    """Save `obj` as `directory/filename` in the format its extension names; return the path.

    With `saver`, `saver(obj, path)` writes the file whatever the extension is. Raises
    `ArtifactError` (a ValueError) for an unknown extension without `saver`, TypeError
    when `obj` does not fit the extension, ImportError when the format's library is
    missing. Nothing touches the disk until those checks pass.

    Example: `save_artifact({"acc": 0.95}, run_dir / "artifacts", "metrics.json")`.
    """
    name = validate_name(filename)
    write = functools.partial(saver, obj) if saver is not None else _writer(obj, name)
    target = Path(directory) / name
    _write_atomically(target, write, name)
    return target


def load_artifact(directory: Path, filename: str, loader: Loader | None = None) -> Any | None:
    """Load `directory/filename` by its extension, or return None when it does not exist.

    With `loader`, return `loader(path)` instead. `.csv` loads as a pandas DataFrame when
    pandas is installed and otherwise as a list of dicts whose values are strings. `.pt`
    files load with `weights_only=True` when the installed torch supports it (tensors,
    state dicts and plain containers); pass a `loader` to load arbitrary pickled objects
    from a file you trust. An unknown extension without `loader` raises `ArtifactError`,
    even when the file is missing, so a typo shows up at once.
    """
    name = validate_name(filename)
    path = Path(directory) / name
    if loader is not None:
        return loader(path) if path.exists() else None
    extension = _extension(name)
    if extension not in _FORMATS:
        raise _unknown_extension("load", name, "loader=a function (path) -> object")
    return _FORMATS[extension][1](path, name) if path.exists() else None


def copy_artifact(src: Path | str, directory: Path, filename: str | None = None) -> Path:
    """Copy the file (or directory tree) `src` into `directory` as `filename`; return the path.

    `filename` defaults to the source's own name. A file is copied atomically with its
    metadata (`shutil.copy2`); a directory is merged into an existing one file by file.
    """
    source = Path(src)
    name = validate_name(filename if filename is not None else source.name)
    if not source.exists():
        raise FileNotFoundError(
            f"cannot copy artifact {name!r}: source {str(source)!r} does not exist "
            f"(relative paths start from {os.getcwd()}); check the path"
        )
    target = Path(directory) / name
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
        return target

    _write_atomically(target, functools.partial(shutil.copy2, source), name)
    return target


def artifact_exists(directory: Path, filename: str) -> bool:
    """Return True when `directory/filename` exists (a file, or a copied directory)."""
    return (Path(directory) / validate_name(filename)).exists()


def list_artifacts(directory: Path) -> list[str]:
    """Return the sorted posix relative paths of every file under `directory`.

    Files whose name starts with "." (such as half-written temporary files) are left
    out; a missing directory gives [].
    """
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )


# --- writing -------------------------------------------------------------------------


def _write_atomically(target: Path, write: _Write, name: str) -> None:
    """Run `write` on a hidden temporary path next to `target`, then move it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # The temporary keeps the real extension: some writers (numpy, custom savers)
    # append one when it is missing and would then write somewhere else.
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")
    try:
        write(temporary)
        if not temporary.exists():
            raise ArtifactError(
                f"saving {name!r}: the saver wrote nothing at the path it was given "
                f"({temporary}); make it write exactly to that path"
            )
        os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        # A custom saver may have made a directory (e.g. a model's save_pretrained).
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _writer(obj: Any, name: str) -> _Write:
    """Check `obj` against `name`'s extension and return the function that writes it."""
    extension = _extension(name)
    if extension not in _FORMATS:
        raise _unknown_extension("save", name, "saver=a function (obj, path) -> None")
    return _FORMATS[extension][0](obj, name)


def _text_file(text: str) -> _Write:
    def write(path: Path) -> None:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    return write


def _binary_file(dump: Callable[[BinaryIO], object]) -> _Write:
    def write(path: Path) -> None:
        with open(path, "wb") as handle:
            dump(handle)

    return write


def _text_writer(obj: Any, name: str) -> _Write:
    if not isinstance(obj, str):
        raise _wrong_type(name, "a str", obj, "convert it with str(), or save it as .json or .pkl")
    return _text_file(obj)


def _csv_writer(obj: Any, name: str) -> _Write:
    if _comes_from(obj, "pandas") and hasattr(obj, "to_csv"):
        return lambda path: obj.to_csv(path, index=False)
    if not _is_list_of_mappings(obj):
        raise _wrong_type(
            name, "a pandas DataFrame or a list of dicts", obj, "save other objects as .pkl"
        )
    # Columns are every key of every row, in the order they are first seen.
    fieldnames = list(dict.fromkeys(key for row in obj for key in row))
    buffer = io.StringIO()
    if fieldnames:
        writer = csv.DictWriter(buffer, fieldnames=fieldnames, restval="")
        writer.writeheader()
        writer.writerows(obj)
    return _text_file(buffer.getvalue())


def _json_writer(obj: Any, name: str) -> _Write:
    return _text_file(json.dumps(_to_json(obj, name), indent=2, allow_nan=False) + "\n")


def _jsonl_writer(obj: Any, name: str) -> _Write:
    if not _is_list_of_mappings(obj):
        raise _wrong_type(name, "a list of dicts", obj, "save other objects as .json")
    lines = [
        json.dumps(_to_json(row, name, f"rows[{index}]"), allow_nan=False) + "\n"
        for index, row in enumerate(obj)
    ]
    return _text_file("".join(lines))


def _npy_writer(obj: Any, name: str) -> _Write:
    numpy = _require("numpy", "NumPy", _DATA_HINT, "saving", name)
    array = _plain_array(numpy, obj, name)
    return _binary_file(lambda handle: numpy.save(handle, array, allow_pickle=False))


def _npz_writer(obj: Any, name: str) -> _Write:
    if not isinstance(obj, Mapping):
        raise _wrong_type(name, "a dict of numpy arrays", obj, "save a single array as .npy")
    numpy = _require("numpy", "NumPy", _DATA_HINT, "saving", name)
    arrays = {str(key): _plain_array(numpy, value, name) for key, value in obj.items()}
    return _binary_file(lambda handle: numpy.savez(handle, **arrays))


def _torch_writer(obj: Any, name: str) -> _Write:
    torch = _require("torch", "PyTorch", "pip install torch", "saving", name)
    return _binary_file(lambda handle: torch.save(obj, handle))


def _pickle_writer(obj: Any, name: str) -> _Write:
    return _binary_file(lambda handle: pickle.dump(obj, handle, pickle.HIGHEST_PROTOCOL))


def _png_writer(obj: Any, name: str) -> _Write:
    if _comes_from(obj, "matplotlib") and hasattr(obj, "savefig"):
        return _binary_file(lambda handle: obj.savefig(handle, format="png"))
    if _comes_from(obj, "PIL") and hasattr(obj, "save"):
        return _binary_file(lambda handle: obj.save(handle, format="PNG"))
    raise _wrong_type(
        name, "a matplotlib Figure or a PIL Image", obj, "pass saver= for other types"
    )


# --- reading -------------------------------------------------------------------------


def _read_text(path: Path, name: str) -> str:
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def _read_csv(path: Path, name: str) -> Any:
    try:
        pandas = importlib.import_module("pandas")
    except ModuleNotFoundError:
        pandas = None
    empty = path.stat().st_size == 0
    if pandas is not None:
        return pandas.DataFrame() if empty else pandas.read_csv(path)
    with open(path, encoding="utf-8", newline="") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


def _read_json(path: Path, name: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return restore_floats(json.load(handle))


def _read_jsonl(path: Path, name: str) -> list[Any]:
    with open(path, encoding="utf-8") as handle:
        return [restore_floats(json.loads(line)) for line in handle if line.strip()]


def _read_npy(path: Path, name: str) -> Any:
    numpy = _require("numpy", "NumPy", _DATA_HINT, "loading", name)
    with open(path, "rb") as handle:
        return numpy.load(handle, allow_pickle=False)


def _read_npz(path: Path, name: str) -> dict[str, Any]:
    numpy = _require("numpy", "NumPy", _DATA_HINT, "loading", name)
    with numpy.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _read_torch(path: Path, name: str) -> Any:
    torch = _require("torch", "PyTorch", "pip install torch", "loading", name)
    options: dict[str, Any] = {}
    # Torch before 1.13 has no weights_only; from 1.13 on, ask for the safe loader.
    if "weights_only" in inspect.signature(torch.load).parameters:
        options["weights_only"] = True
    with open(path, "rb") as handle:
        return torch.load(handle, **options)


def _read_pickle(path: Path, name: str) -> Any:
    with open(path, "rb") as handle:
        return pickle.load(handle)


def _read_png(path: Path, name: str) -> Any:
    image_module = _require("PIL.Image", "Pillow", _PLOT_HINT, "loading", name)
    with image_module.open(path) as image:
        image.load()  # read the pixels now, so the file can be closed
        return image


# extension -> (check an object and return its writer, read a file)
_FORMATS: dict[str, tuple[Callable[[Any, str], _Write], Callable[[Path, str], Any]]] = {
    ".txt": (_text_writer, _read_text),
    ".csv": (_csv_writer, _read_csv),
    ".json": (_json_writer, _read_json),
    ".jsonl": (_jsonl_writer, _read_jsonl),
    ".npy": (_npy_writer, _read_npy),
    ".npz": (_npz_writer, _read_npz),
    ".pt": (_torch_writer, _read_torch),
    ".pth": (_torch_writer, _read_torch),
    ".pkl": (_pickle_writer, _read_pickle),
    ".png": (_png_writer, _read_png),
}
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(_FORMATS)


# --- shared --------------------------------------------------------------------------


def _extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def _require(module: str, library: str, hint: str, action: str, name: str) -> Any:
    """Import `module`, or raise ImportError saying what to install for `name`."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # A library that is installed but misses one of its own dependencies is not
        # "missing": let that error through unchanged.
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            raise
        raise ImportError(f"{action} {name!r} needs {library}: {hint}", name=module) from exc


def _comes_from(obj: Any, package: str) -> bool:
    return f"{type(obj).__module__}.".startswith(f"{package}.")


def _is_list_of_mappings(obj: Any) -> bool:
    return isinstance(obj, (list, tuple)) and all(isinstance(row, Mapping) for row in obj)


def _plain_array(numpy: Any, value: Any, name: str) -> Any:
    array = numpy.asarray(value)
    if array.dtype.hasobject:
        raise TypeError(
            f"cannot save {name!r}: numpy files hold numbers, strings and booleans, "
            f"not Python objects (got an array of dtype object); save it as .pkl instead"
        )
    return array


def _to_json(obj: Any, name: str, key: str = "obj") -> Any:
    try:
        return jsonable(obj, key)
    except TypeError as exc:
        raise TypeError(f"cannot save {name!r} as JSON: {exc}; or save it as .pkl") from None


def _wrong_type(name: str, expected: str, obj: Any, advice: str) -> TypeError:
    return TypeError(
        f"cannot save {name!r}: {_extension(name)} needs {expected}, "
        f"got {type(obj).__name__}; {advice}"
    )


def _unknown_extension(action: str, name: str, option: str) -> ArtifactError:
    extension = _extension(name) or "(none)"
    return ArtifactError(
        f"cannot {action} {name!r}: unknown extension {extension}; supported: "
        f"{', '.join(SUPPORTED_EXTENSIONS)}; for other formats pass {option}"
    )
