"""ExperimentSpec (what to run) and ExperimentResult (how it ended): validation and JSON."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import yanex
from yanex.core.spec import ExperimentResult, ExperimentSpec
from yanex.core.status import FailureReason


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "train.py"
    path.write_text("print('hi')\n")
    return path


# --- the public names --------------------------------------------------------------


def test_spec_and_result_are_exported_from_yanex() -> None:
    assert yanex.ExperimentSpec is ExperimentSpec
    assert yanex.ExperimentResult is ExperimentResult
    assert {"ExperimentSpec", "ExperimentResult", "run_multiple"} <= set(yanex.__all__)


def test_spec_defaults_match_the_original_yanex(script: Path) -> None:
    spec = ExperimentSpec(script_path=script)
    assert spec.config == {} and spec.script_args == [] and spec.tags == []
    assert spec.name is None and spec.description is None and spec.function is None
    assert spec.module is None and spec.python is None and spec.cwd is None
    assert spec.env == {} and spec.timeout is None and spec.dependencies == []


def test_mutable_defaults_are_not_shared(script: Path) -> None:
    first, second = ExperimentSpec(script_path=script), ExperimentSpec(script_path=script)
    first.tags.append("a")
    first.config["lr"] = 1
    assert second.tags == [] and second.config == {}


# --- validate -----------------------------------------------------------------------


def test_a_script_spec_validates(script: Path) -> None:
    ExperimentSpec(script_path=script, config={"lr": 0.1}, script_args=["--x", "1"]).validate()


def test_a_module_spec_validates_without_a_file() -> None:
    ExperimentSpec(module="pkg.sub.main", script_args=["-v"]).validate()


def test_neither_script_nor_function_is_refused_with_the_original_message() -> None:
    with pytest.raises(ValueError, match="exactly one of script_path or function"):
        ExperimentSpec().validate()


def test_script_and_module_together_are_refused(script: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of script_path or function"):
        ExperimentSpec(script_path=script, module="pkg.main").validate()


def test_function_is_reserved_and_names_the_alternatives() -> None:
    with pytest.raises(NotImplementedError) as caught:
        ExperimentSpec(function=lambda: None).validate()
    assert "script_path" in str(caught.value) and "module" in str(caught.value)


def test_function_together_with_a_script_is_a_value_error(script: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ExperimentSpec(script_path=script, function=print).validate()


def test_missing_script_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found") as caught:
        ExperimentSpec(script_path=tmp_path / "nope.py").validate()
    assert "nope.py" in str(caught.value)


def test_directory_is_not_a_script(tmp_path: Path) -> None:
    (tmp_path / "pkg.py").mkdir()
    with pytest.raises(ValueError, match="directory"):
        ExperimentSpec(script_path=tmp_path / "pkg.py").validate()


def test_script_must_be_a_python_file(tmp_path: Path) -> None:
    path = tmp_path / "run.sh"
    path.write_text("echo hi\n")
    with pytest.raises(ValueError, match="not a Python file"):
        ExperimentSpec(script_path=path).validate()


def test_relative_script_is_found_from_cwd(script: Path, tmp_path: Path) -> None:
    spec = ExperimentSpec(script_path="train.py", cwd=tmp_path)
    spec.validate()
    assert spec.resolved_script() == script


def test_relative_script_defaults_to_the_process_cwd(
    script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert ExperimentSpec(script_path="train.py").resolved_script() == script
    assert ExperimentSpec(script_path="train.py").resolved_cwd() == tmp_path


@pytest.mark.parametrize("module", ["", "pkg..mod", "1pkg", "pkg/mod", "-m", "train.py "])
def test_module_must_be_a_dotted_name(module: str) -> None:
    with pytest.raises(ValueError):
        ExperimentSpec(module=module).validate()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("config", [1, 2], "config must be a dict"),
        ("script_args", "--epochs 3", "script_args must be a list of strings"),
        ("script_args", ["--epochs", 3], "script_args must be a list of strings"),
        ("tags", "baseline", "tags must be a list of strings"),
        ("timeout", 0, "timeout must be a positive number"),
        ("timeout", -1.5, "timeout must be a positive number"),
        ("timeout", "10", "timeout must be a positive number"),
    ],
)
def test_wrong_option_types_are_refused(script: Path, field: str, value: Any, message: str) -> None:
    spec = ExperimentSpec(script_path=script)
    setattr(spec, field, value)
    with pytest.raises(ValueError, match=message):
        spec.validate()


def test_python_must_exist_and_be_executable(script: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="python interpreter .* does not exist"):
        ExperimentSpec(script_path=script, python=str(tmp_path / "venv/bin/python")).validate()
    not_executable = tmp_path / "python"
    not_executable.write_text("")
    with pytest.raises(ValueError, match="not executable"):
        ExperimentSpec(script_path=script, python=str(not_executable)).validate()
    ExperimentSpec(script_path=script, python=sys.executable).validate()


def test_relative_python_is_taken_from_cwd(script: Path, tmp_path: Path) -> None:
    spec = ExperimentSpec(script_path=script, python="tools/x/.venv/bin/python", cwd=tmp_path)
    assert spec.resolved_python() == str(tmp_path / "tools/x/.venv/bin/python")
    assert ExperimentSpec(script_path=script).resolved_python() == sys.executable


def test_cwd_must_exist(script: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="working directory .* does not exist"):
        ExperimentSpec(script_path=script, cwd=tmp_path / "missing").validate()


# --- JSON round trip ------------------------------------------------------------------


def test_spec_round_trips_through_json(script: Path, tmp_path: Path) -> None:
    spec = ExperimentSpec(
        script_path=script,
        config={"lr": 0.01, "model": {"layers": [1, 2]}, "flag": None},
        script_args=["--data-exp", "abc123"],
        name="grid-lr0.01",
        tags=["grid", "kfold"],
        description="first fold",
        dependencies={"data": "abcd1234"},
        python=sys.executable,
        cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1"},
        timeout=30.5,
    )
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["script_path"] == str(script) and data["cwd"] == str(tmp_path)
    assert "function" not in data
    back = ExperimentSpec.from_dict(data)
    assert back.to_dict() == spec.to_dict()
    back.validate()


def test_module_spec_round_trips() -> None:
    spec = ExperimentSpec(module="tool.main", script_args=["a"], dependencies=["abcd1234"])
    assert ExperimentSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_function_spec_cannot_be_serialized() -> None:
    with pytest.raises(ValueError, match="function"):
        ExperimentSpec(function=print).to_dict()


def test_from_dict_rejects_unknown_fields_by_name() -> None:
    with pytest.raises(ValueError, match="unknown ExperimentSpec fields: bogus, other"):
        ExperimentSpec.from_dict({"module": "m", "bogus": 1, "other": 2})
    with pytest.raises(ValueError, match="function"):
        ExperimentSpec.from_dict({"module": "m", "function": "print"})


_json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_json_values = st.recursive(
    _json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    config=st.dictionaries(st.text(max_size=10), _json_values, max_size=4),
    args=st.lists(st.text(max_size=10), max_size=4),
    tags=st.lists(st.text(max_size=6), max_size=3),
    name=st.none() | st.text(max_size=12),
    timeout=st.none() | st.floats(min_value=0.001, max_value=1e6),
    env=st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=6), max_size=3),
)
def test_any_module_spec_round_trips_through_json(
    config: dict[str, Any],
    args: list[str],
    tags: list[str],
    name: str | None,
    timeout: float | None,
    env: dict[str, str],
) -> None:
    spec = ExperimentSpec(
        module="pkg.main",
        config=config,
        script_args=args,
        tags=tags,
        name=name,
        timeout=timeout,
        env=env,
    )
    assert ExperimentSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


# --- ExperimentResult ----------------------------------------------------------------


def test_result_fields_and_round_trip() -> None:
    result = ExperimentResult(
        "abcd1234", "failed", "script exited with code 3", 1.5, "fold-1", 3, "exit_code"
    )
    assert not result.succeeded
    assert ExperimentResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert ExperimentResult("abcd1234", "completed").succeeded


def test_result_from_dict_tolerates_missing_optional_fields() -> None:
    result = ExperimentResult.from_dict({"experiment_id": "abcd1234", "status": "cancelled"})
    assert result.error_message is None and result.exit_code is None
    assert result.failure_reason is None


def test_result_from_metadata_reads_the_record() -> None:
    metadata = {
        "id": "abcd1234",
        "status": "failed",
        "name": "lr-0.1",
        "duration": 2.25,
        "exit_code": -9,
        "failure_reason": "signal",
        "error_message": "killed by signal SIGKILL (9)",
    }
    result = ExperimentResult.from_metadata(metadata)
    assert result == ExperimentResult(
        "abcd1234", "failed", "killed by signal SIGKILL (9)", 2.25, "lr-0.1", -9, "signal"
    )


def test_result_from_original_yanex_metadata_has_no_reason() -> None:
    result = ExperimentResult.from_metadata({"id": "abcd1234", "status": "completed"})
    assert result.succeeded and result.failure_reason is None and result.exit_code is None


@pytest.mark.parametrize("reason", [r.value for r in FailureReason])
def test_every_failure_reason_is_a_plain_string(reason: str) -> None:
    result = ExperimentResult.from_metadata(
        {"id": "abcd1234", "status": "failed", "failure_reason": reason}
    )
    assert result.failure_reason == reason and type(result.failure_reason) is str


def test_issue_failure_reasons_exist() -> None:
    values = {r.value for r in FailureReason}
    assert {"exit_code", "signal", "timeout", "runner_lost", "worker_lost", "cancelled"} <= values


def test_a_failure_reason_from_a_newer_yanex_is_kept_as_written() -> None:
    result = ExperimentResult.from_metadata(
        {"id": "abcd1234", "status": "failed", "failure_reason": "quota_exceeded"}
    )
    assert result.failure_reason == "quota_exceeded"


def test_spec_paths_accept_str_and_pathlike(script: Path) -> None:
    for value in (script, str(script), os.fspath(script)):
        ExperimentSpec(script_path=value).validate()
