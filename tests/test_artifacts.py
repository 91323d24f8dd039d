"""Artifacts saved and loaded by extension, on real files in tmp_path."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy
import pandas
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from yanex.core.artifacts import (
    SUPPORTED_EXTENSIONS,
    artifact_exists,
    copy_artifact,
    list_artifacts,
    load_artifact,
    save_artifact,
    validate_name,
)
from yanex.errors import ArtifactError, YanexError

matplotlib.use("Agg")  # no display in tests; must precede the pyplot import
from matplotlib import pyplot  # noqa: E402


def run_without(module: str, code: str, cwd: Path) -> str:
    """Run `code` in a fresh interpreter where `import <module>` fails; return its stdout."""
    script = f"import sys\nsys.modules[{module!r}] = None\n" + textwrap.dedent(code)
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("model.pt", "model.pt"),
        ("plots/loss.png", "plots/loss.png"),
        ("plots/./loss.png", "plots/loss.png"),
        ("./model.pt", "model.pt"),
        ("a/../b.txt", "b.txt"),
        ("plots//loss.png", "plots/loss.png"),
        ("plots\\loss.png", "plots/loss.png"),
        ("..model.pt", "..model.pt"),
    ],
)
def test_validate_name_normalizes_relative_names(name: str, expected: str) -> None:
    assert validate_name(name) == expected


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "artifact name is empty"),
        ("   ", "artifact name is empty"),
        ("/etc/passwd", "'/etc/passwd' is an absolute path"),
        ("\\\\server\\share", "is an absolute path"),
        ("C:\\Windows\\x.txt", "is an absolute path"),
        ("../x", "'../x' escapes the artifacts directory"),
        ("a/../../x", "'a/../../x' escapes the artifacts directory"),
        ("..\\x", "escapes the artifacts directory"),
        ("..", "escapes the artifacts directory"),
        (".", "names the artifacts directory itself"),
        ("a/..", "names the artifacts directory itself"),
        ("plots/", "'plots/' names a directory, not a file"),
        ("a\0b.txt", "contains a NUL byte"),
    ],
)
def test_validate_name_rejects_unusable_names(name: str, fragment: str) -> None:
    with pytest.raises(ArtifactError, match="use a plain relative name|add a file name") as info:
        validate_name(name)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, YanexError)


def test_escape_message_says_what_to_do() -> None:
    with pytest.raises(ArtifactError) as info:
        validate_name("../x")
    assert str(info.value) == (
        "artifact name '../x' escapes the artifacts directory; "
        "use a plain relative name like 'model.pt'"
    )


@given(st.text(alphabet="ab./\\", max_size=12))
def test_validated_names_stay_inside_the_directory(name: str) -> None:
    try:
        normalized = validate_name(name)
    except ArtifactError:
        return
    root = Path("/artifacts-root")
    resolved = Path(os.path.normpath(root / normalized))
    assert resolved.parent == root or root in resolved.parents
    assert ".." not in normalized.split("/")
    assert not normalized.startswith("/")


def test_every_name_taking_function_validates(tmp_path: Path) -> None:
    directory = tmp_path / "run" / "artifacts"
    source = tmp_path / "source.txt"
    source.write_text("x")
    calls = [
        lambda: save_artifact("x", directory, "../escape.txt"),
        lambda: save_artifact("x", directory, "../escape.bin", saver=lambda o, p: None),
        lambda: load_artifact(directory, "../escape.txt"),
        lambda: load_artifact(directory, "/etc/passwd", loader=lambda p: p),
        lambda: artifact_exists(directory, "../escape.txt"),
        lambda: copy_artifact(source, directory, "../escape.txt"),
        lambda: copy_artifact(tmp_path / "missing.txt", directory, "../escape.txt"),
    ]
    for call in calls:
        with pytest.raises(ArtifactError):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.txt"]


# --- round trips ---------------------------------------------------------------------


def test_text_round_trip_keeps_unicode_and_line_endings(tmp_path: Path) -> None:
    text = "loss ↓ 0.1\r\nsecond line\n"
    path = save_artifact(text, tmp_path, "status.txt")
    assert path == tmp_path / "status.txt"
    assert path.read_bytes() == text.encode("utf-8")
    assert load_artifact(tmp_path, "status.txt") == text


def test_json_round_trip_with_nan_infinity_and_numpy_values(tmp_path: Path) -> None:
    data = {
        "acc": 0.95,
        "loss": math.nan,
        "best": math.inf,
        "worst": -math.inf,
        "epochs": numpy.int64(3),
        "weights": numpy.array([1.5, 2.5]),
        "nested": {"shape": (2, 3)},
    }
    save_artifact(data, tmp_path, "metrics.json")
    raw = (tmp_path / "metrics.json").read_text(encoding="utf-8")
    assert json.loads(raw)["loss"] == "NaN"  # strict JSON that jq and browsers read
    assert raw.startswith('{\n  "acc"')  # indent=2
    loaded = load_artifact(tmp_path, "metrics.json")
    assert math.isnan(loaded.pop("loss"))
    assert loaded == {
        "acc": 0.95,
        "best": math.inf,
        "worst": -math.inf,
        "epochs": 3,
        "weights": [1.5, 2.5],
        "nested": {"shape": [2, 3]},
    }


def test_jsonl_round_trip(tmp_path: Path) -> None:
    rows = [{"step": 1, "loss": 0.5}, {"step": 2, "loss": math.inf, "note": "x"}]
    save_artifact(rows, tmp_path, "history.jsonl")
    lines = (tmp_path / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines][1]["loss"] == "Infinity"
    assert load_artifact(tmp_path, "history.jsonl") == rows


def test_csv_from_list_of_dicts_uses_every_key_in_first_seen_order(tmp_path: Path) -> None:
    rows = [{"b": 1, "a": "x"}, {"a": "y", "c": 2.5}]
    save_artifact(rows, tmp_path, "results.csv")
    lines = (tmp_path / "results.csv").read_text(encoding="utf-8").splitlines()
    assert lines == ["b,a,c", "1,x,", ",y,2.5"]
    frame = load_artifact(tmp_path, "results.csv")
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["b", "a", "c"]
    assert frame["a"].tolist() == ["x", "y"]
    assert frame["c"].isna().tolist() == [True, False]


def test_csv_dataframe_round_trip_without_index(tmp_path: Path) -> None:
    frame = pandas.DataFrame({"lr": [0.1, 0.01], "name": ["a", "b"]}, index=[10, 20])
    save_artifact(frame, tmp_path, "results.csv")
    assert (tmp_path / "results.csv").read_text().splitlines()[0] == "lr,name"
    loaded = load_artifact(tmp_path, "results.csv")
    pandas.testing.assert_frame_equal(loaded, frame.reset_index(drop=True))


def test_empty_csv_loads_as_empty_frame(tmp_path: Path) -> None:
    save_artifact([], tmp_path, "empty.csv")
    assert (tmp_path / "empty.csv").read_bytes() == b""
    assert load_artifact(tmp_path, "empty.csv").empty


def test_csv_loads_as_list_of_string_dicts_without_pandas(tmp_path: Path) -> None:
    save_artifact([{"step": 1, "loss": 0.5}, {"step": 2}], tmp_path, "r.csv")
    save_artifact([], tmp_path, "empty.csv")
    out = run_without(
        "pandas",
        """
        from pathlib import Path
        from yanex.core.artifacts import load_artifact
        print(load_artifact(Path("."), "r.csv"))
        print(load_artifact(Path("."), "empty.csv"))
        """,
        tmp_path,
    )
    assert out.splitlines() == [
        "[{'step': '1', 'loss': '0.5'}, {'step': '2', 'loss': ''}]",
        "[]",
    ]


def test_npy_round_trip(tmp_path: Path) -> None:
    array = numpy.arange(12, dtype=numpy.float32).reshape(3, 4)
    save_artifact(array, tmp_path, "weights.npy")
    loaded = load_artifact(tmp_path, "weights.npy")
    assert loaded.dtype == numpy.float32
    numpy.testing.assert_array_equal(loaded, array)


def test_npz_round_trip_loads_a_plain_dict(tmp_path: Path) -> None:
    arrays = {"x": numpy.arange(3), "y": numpy.ones((2, 2)), "labels": numpy.array(["a", "b"])}
    save_artifact(arrays, tmp_path, "data.npz")
    assert list_artifacts(tmp_path) == ["data.npz"]
    loaded = load_artifact(tmp_path, "data.npz")
    assert isinstance(loaded, dict)
    assert sorted(loaded) == ["labels", "x", "y"]
    for key, value in arrays.items():
        numpy.testing.assert_array_equal(loaded[key], value)


def test_pickle_round_trip_of_any_object(tmp_path: Path) -> None:
    value = {"set": {1, 2}, "tuple": (1, "a"), "bytes": b"\x00", "nan": math.inf}
    save_artifact(value, tmp_path, "state.pkl")
    assert load_artifact(tmp_path, "state.pkl") == value


def test_png_from_matplotlib_figure(tmp_path: Path) -> None:
    figure, axes = pyplot.subplots(figsize=(2, 1), dpi=50)
    try:
        axes.plot([1, 2, 3])
        save_artifact(figure, tmp_path, "plots/loss.png")
    finally:
        pyplot.close(figure)
    assert (tmp_path / "plots" / "loss.png").read_bytes().startswith(b"\x89PNG")
    image = load_artifact(tmp_path, "plots/loss.png")
    assert image.size == (100, 50)


def test_png_round_trip_of_pil_image(tmp_path: Path) -> None:
    image = Image.new("RGB", (4, 3), color=(255, 0, 0))
    image.putpixel((1, 2), (0, 0, 255))
    save_artifact(image, tmp_path, "sample.png")
    loaded = load_artifact(tmp_path, "sample.png")
    assert loaded.size == (4, 3)
    assert loaded.getpixel((1, 2)) == (0, 0, 255)
    assert loaded.getpixel((0, 0)) == (255, 0, 0)
    # The file is closed after loading: it can be replaced while the image is in use.
    os.replace(tmp_path / "sample.png", tmp_path / "moved.png")
    assert loaded.tobytes() == image.tobytes()


def test_extensions_are_case_insensitive(tmp_path: Path) -> None:
    save_artifact({"a": 1}, tmp_path, "Metrics.JSON")
    save_artifact("hi", tmp_path, "NOTE.Txt")
    assert load_artifact(tmp_path, "Metrics.JSON") == {"a": 1}
    assert load_artifact(tmp_path, "NOTE.Txt") == "hi"


def test_supported_extensions() -> None:
    assert set(SUPPORTED_EXTENSIONS) == {
        ".txt", ".csv", ".json", ".jsonl", ".npy", ".npz", ".pt", ".pth", ".pkl", ".png",
    }  # fmt: skip


# --- saving: behaviour and errors ----------------------------------------------------


def test_save_creates_subdirectories_and_overwrites(tmp_path: Path) -> None:
    directory = tmp_path / "not" / "yet"
    save_artifact("one", directory, "deep/er/status.txt")
    save_artifact("two", directory, "deep/er/status.txt")
    assert load_artifact(directory, "deep/er/status.txt") == "two"
    assert list_artifacts(directory) == ["deep/er/status.txt"]


@pytest.mark.parametrize(
    ("obj", "filename", "expected"),
    [
        (42, "status.txt", ".txt needs a str, got int"),
        ({"a": 1}, "r.csv", ".csv needs a pandas DataFrame or a list of dicts, got dict"),
        ([1, 2], "r.csv", "a list of dicts, got list"),
        ({"a": 1}, "h.jsonl", ".jsonl needs a list of dicts, got dict"),
        ([numpy.arange(2)], "d.npz", ".npz needs a dict of numpy arrays, got list"),
        ("not a plot", "p.png", ".png needs a matplotlib Figure or a PIL Image, got str"),
        (numpy.arange(3), "p.png", "got ndarray"),
        ({"f": object()}, "m.json", "as JSON: cannot store 'obj.f': a value of type object"),
        ([{"ok": 1}, {"bad": {1, 2}}], "h.jsonl", "'rows[1].bad': a value of type set"),
        ([{"a": 1}, "b"], "o.npy", "not Python objects"),
        ({"x": [{"a": 1}]}, "o.npz", "not Python objects"),
    ],
)
def test_wrong_object_type_raises_type_error_and_writes_nothing(
    tmp_path: Path, obj: Any, filename: str, expected: str
) -> None:
    with pytest.raises(TypeError) as info:
        save_artifact(obj, tmp_path / "artifacts", filename)
    assert expected in str(info.value)
    assert f"'{filename}'" in str(info.value)
    assert not (tmp_path / "artifacts").exists()


@pytest.mark.parametrize("filename", ["data.custom", "README", "archive.tar.gz"])
def test_unknown_extension_lists_formats_and_mentions_saver(tmp_path: Path, filename: str) -> None:
    with pytest.raises(ValueError) as info:
        save_artifact(b"raw", tmp_path, filename)
    message = str(info.value)
    assert isinstance(info.value, ArtifactError)
    assert all(extension in message for extension in SUPPORTED_EXTENSIONS)
    assert "saver=" in message
    assert list_artifacts(tmp_path) == []


def test_unknown_extension_on_load_mentions_loader(tmp_path: Path) -> None:
    (tmp_path / "data.custom").write_bytes(b"raw")
    with pytest.raises(ArtifactError, match=r"unknown extension \.custom.*loader="):
        load_artifact(tmp_path, "data.custom")
    with pytest.raises(ArtifactError, match="loader="):
        load_artifact(tmp_path, "missing.custom")


def test_custom_saver_and_loader_for_any_extension(tmp_path: Path) -> None:
    seen: list[Path] = []

    def saver(obj: Any, path: Path) -> None:
        seen.append(path)
        path.write_text(":".join(obj))

    path = save_artifact(["a", "b"], tmp_path, "pair.custom", saver=saver)
    assert path == tmp_path / "pair.custom"
    assert seen[0].parent == tmp_path and seen[0].suffix == ".custom"  # a temp, then moved
    assert load_artifact(tmp_path, "pair.custom", loader=lambda p: p.read_text().split(":")) == [
        "a",
        "b",
    ]
    # saver= also wins over a built-in format.
    save_artifact({"a": 1}, tmp_path, "x.json", saver=lambda obj, p: p.write_text("custom"))
    assert (tmp_path / "x.json").read_text() == "custom"


def test_saver_that_writes_nothing_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="wrote nothing at the path it was given"):
        save_artifact(1, tmp_path, "x.custom", saver=lambda obj, path: None)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_the_previous_artifact_and_no_temp_file(tmp_path: Path) -> None:
    save_artifact("good", tmp_path, "state.txt")

    def broken(obj: Any, path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        save_artifact("bad", tmp_path, "state.txt", saver=broken)
    with pytest.raises(AttributeError):
        save_artifact(lambda: None, tmp_path, "state.pkl")  # lambdas cannot be pickled
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.txt"]
    assert load_artifact(tmp_path, "state.txt") == "good"


# --- loading, listing, copying -------------------------------------------------------


def test_load_of_missing_artifact_is_none(tmp_path: Path) -> None:
    called: list[Path] = []
    assert load_artifact(tmp_path / "nowhere", "model.pt") is None
    assert load_artifact(tmp_path, "results.json") is None
    assert load_artifact(tmp_path, "x.custom", loader=called.append) is None
    assert called == []


def test_artifact_exists(tmp_path: Path) -> None:
    assert not artifact_exists(tmp_path, "plots/loss.png")
    save_artifact("x", tmp_path, "plots/a.txt")
    assert artifact_exists(tmp_path, "plots/a.txt")
    assert artifact_exists(tmp_path, "plots/../plots/a.txt")
    assert not artifact_exists(tmp_path, "plots/b.txt")


def test_list_artifacts_is_sorted_recursive_and_skips_temp_files(tmp_path: Path) -> None:
    assert list_artifacts(tmp_path / "missing") == []
    save_artifact("x", tmp_path, "z.txt")
    save_artifact("x", tmp_path, "a/b/c.txt")
    save_artifact("x", tmp_path, "a/a.txt")
    (tmp_path / ".z.txt.1234abcd.tmp.txt").write_text("half-written")
    (tmp_path / "a" / ".model.pt.5678.tmp.pt").write_text("half-written")
    (tmp_path / "empty_dir").mkdir()
    assert list_artifacts(tmp_path) == ["a/a.txt", "a/b/c.txt", "z.txt"]


def test_copy_file_keeps_name_or_renames(tmp_path: Path) -> None:
    source = tmp_path / "data" / "results.csv"
    source.parent.mkdir()
    source.write_text("a,b\n1,2\n")
    os.utime(source, (1_000_000_000, 1_000_000_000))
    directory = tmp_path / "artifacts"
    assert copy_artifact(source, directory) == directory / "results.csv"
    assert copy_artifact(str(source), directory, "final/out.csv") == directory / "final/out.csv"
    assert (directory / "final" / "out.csv").read_text() == "a,b\n1,2\n"
    assert (directory / "results.csv").stat().st_mtime == 1_000_000_000  # copy2 metadata
    assert list_artifacts(directory) == ["final/out.csv", "results.csv"]


def test_copy_directory_tree_merges(tmp_path: Path) -> None:
    tree = tmp_path / "checkpoint"
    (tree / "shards").mkdir(parents=True)
    (tree / "config.json").write_text("{}")
    (tree / "shards" / "0.bin").write_bytes(b"\x00")
    directory = tmp_path / "artifacts"
    save_artifact("old", directory, "checkpoint/notes.txt")
    assert copy_artifact(tree, directory) == directory / "checkpoint"
    assert list_artifacts(directory) == [
        "checkpoint/config.json",
        "checkpoint/notes.txt",
        "checkpoint/shards/0.bin",
    ]
    assert artifact_exists(directory, "checkpoint")


def test_copy_of_missing_source_says_which(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        copy_artifact(tmp_path / "nope.pt", tmp_path / "artifacts")
    assert "nope.pt" in str(info.value) and "does not exist" in str(info.value)
    assert not (tmp_path / "artifacts").exists()


# --- optional libraries --------------------------------------------------------------


def test_importing_the_module_loads_no_heavy_library(tmp_path: Path) -> None:
    out = run_without(
        "_nothing_",
        """
        import yanex.core.artifacts
        heavy = ["numpy", "pandas", "torch", "matplotlib", "PIL"]
        print([name for name in heavy if name in sys.modules])
        """,
        tmp_path,
    )
    assert out.strip() == "[]"


CATCH = """
from pathlib import Path
from yanex.core.artifacts import load_artifact, save_artifact
here = Path(".")

def report(call):
    try:
        call()
    except Exception as exc:
        print(type(exc).__name__, exc)
    else:
        print("no error")
"""


def test_torch_formats_say_to_install_torch(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"not really")
    out = run_without(
        "torch",
        CATCH
        + """
report(lambda: save_artifact({"w": 1}, here, "model.pt"))
report(lambda: save_artifact({"w": 1}, here, "model.pth"))
report(lambda: load_artifact(here, "model.pt"))
""",
        tmp_path,
    )
    assert out.splitlines() == [
        "ImportError saving 'model.pt' needs PyTorch: pip install torch",
        "ImportError saving 'model.pth' needs PyTorch: pip install torch",
        "ImportError loading 'model.pt' needs PyTorch: pip install torch",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_numpy_formats_say_to_install_the_data_extra(tmp_path: Path) -> None:
    save_artifact(numpy.arange(2), tmp_path, "a.npy")
    save_artifact({"a": numpy.arange(2)}, tmp_path, "b.npz")
    out = run_without(
        "numpy",
        CATCH
        + """
report(lambda: save_artifact([1, 2], here, "c.npy"))
report(lambda: save_artifact({"a": [1]}, here, "c.npz"))
report(lambda: load_artifact(here, "a.npy"))
report(lambda: load_artifact(here, "b.npz"))
""",
        tmp_path,
    )
    hint = "needs NumPy: pip install 'yanex[data]'"
    assert out.splitlines() == [
        f"ImportError saving 'c.npy' {hint}",
        f"ImportError saving 'c.npz' {hint}",
        f"ImportError loading 'a.npy' {hint}",
        f"ImportError loading 'b.npz' {hint}",
    ]


def test_png_loading_says_to_install_the_plot_extra(tmp_path: Path) -> None:
    save_artifact(Image.new("L", (1, 1)), tmp_path, "p.png")
    out = run_without(
        "PIL",
        CATCH
        + """
report(lambda: load_artifact(here, "p.png"))
report(lambda: save_artifact("text", here, "q.png"))
""",
        tmp_path,
    )
    lines = out.splitlines()
    assert lines[0] == "ImportError loading 'p.png' needs Pillow: pip install 'yanex[plot]'"
    assert lines[1].startswith("TypeError cannot save 'q.png'")  # checked before any import
