"""Sweep expressions, grid expansion and member names."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yanex.core.sweep import (
    SWEEP_LIMIT,
    Sweep,
    SweepMember,
    count,
    expand,
    member_name,
    parse_sweep,
)
from yanex.errors import ParameterError, UsageError


def values(text: str) -> tuple[Any, ...]:
    sweep = parse_sweep(text)
    assert sweep is not None
    return sweep.values


# --- forms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("list(1, 2, 3)", (1, 2, 3)),
        ("list(1,2,3)", (1, 2, 3)),
        ("list( 1 ,2 )", (1, 2)),
        ("  list(1, 2)  ", (1, 2)),
        ("list (1, 2)", (1, 2)),
        ("list(0.001, 0.01)", (0.001, 0.01)),
        ("list(1e-3, 1e-2)", (0.001, 0.01)),
        ("list(adam, sgd)", ("adam", "sgd")),
        ('list("a,b", c)', ("a,b", "c")),
        ("list('a,b', 'it''s')", ("a,b", "it's")),
        ("list(it's, b)", ("it's", "b")),
        ('list("123", 123)', ("123", 123)),
        ("list(true, false, null)", (True, False, None)),
        ("list([1, 2], [3, 4])", ([1, 2], [3, 4])),
        ("list({a: 1, b: 2}, {a: 3})", ({"a": 1, "b": 2}, {"a": 3})),
        ("list(f(1, 2), x)", ("f(1, 2)", "x")),
        ("list(hello world, 7)", ("hello world", 7)),
    ],
)
def test_list_types_each_element_like_a_param_value(text: str, expected: tuple[Any, ...]) -> None:
    assert values(text) == expected
    for got, want in zip(values(text), expected, strict=True):
        assert type(got) is type(want)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("range(5)", (0, 1, 2, 3, 4)),
        ("range(4, 8)", (4, 5, 6, 7)),
        ("range(4, 8, 1)", (4, 5, 6, 7)),
        ("range(0, 1000, 200)", (0, 200, 400, 600, 800)),
        ("range(10, 0, -3)", (10, 7, 4, 1)),
        ("range( 0 , 3 )", (0, 1, 2)),
    ],
)
def test_range_of_ints_is_pythons_range(text: str, expected: tuple[int, ...]) -> None:
    assert values(text) == expected
    assert all(type(value) is int for value in values(text))


def test_range_with_a_float_gives_floats_without_drift() -> None:
    assert values("range(0, 1, 0.25)") == (0.0, 0.25, 0.5, 0.75)
    assert values("range(0.5, 3)") == (0.5, 1.5, 2.5)
    assert all(type(value) is float for value in values("range(0.5, 3)"))
    tenths = values("range(0, 1, 0.1)")
    assert len(tenths) == 10
    assert tenths[7] == 0 + 7 * 0.1  # start + i * step, not a running sum


def test_float_range_excludes_stop_despite_rounding() -> None:
    # (1.1 - 0.1) / 0.1 == 10.000000000000002 in floats; ceil would make 11 values.
    got = values("range(0.1, 1.1, 0.1)")
    assert len(got) == 10
    assert got[-1] == pytest.approx(1.0)


def test_range_with_negative_float_step() -> None:
    assert values("range(1, 0, -0.25)") == (1.0, 0.75, 0.5, 0.25)


def test_linspace_includes_both_ends() -> None:
    assert values("linspace(0, 1, 5)") == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert values("linspace(10, 100, 5)") == (10.0, 32.5, 55.0, 77.5, 100.0)
    assert values("linspace(3, 7, 1)") == (3.0,)
    assert values("linspace(1, 0, 3)") == (1.0, 0.5, 0.0)
    assert all(type(value) is float for value in values("linspace(0, 10, 11)"))


def test_logspace_is_powers_of_ten() -> None:
    assert values("logspace(-4, -1, 4)") == (0.0001, 0.001, 0.01, 0.1)
    assert values("logspace(0, 2, 3)") == (1.0, 10.0, 100.0)
    got = values("logspace(-4, -1, 10)")
    assert len(got) == 10
    assert got[0] == pytest.approx(1e-4)
    assert got[-1] == pytest.approx(0.1)


def test_sweep_keeps_its_expression() -> None:
    sweep = parse_sweep("  list(1, 2) ")
    assert sweep == Sweep(values=(1, 2), expression="list(1, 2)")
    assert len(sweep) == 2


@pytest.mark.parametrize(
    "text",
    [
        "foo(1, 2)",
        "hello",
        "0.1",
        "",
        "listing(1, 2)",
        "my list(1, 2)",
        "list",
        "[1, 2]",
        "1, 2, 3",
    ],
)
def test_not_sweep_syntax_is_none(text: str) -> None:
    assert parse_sweep(text) is None


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("range(0,", "unbalanced"),
        ("list(1, 2", "unbalanced"),
        ("list(1, [2)", "unbalanced"),
        ("list(1])", "unbalanced"),
        ('list("a, b)', "unterminated quote"),
        ("range(0,10,0)", "step must not be zero"),
        ("range(0.0, 1, 0.0)", "step must not be zero"),
        ("linspace(0,1)", "expected 3 arguments, got 2"),
        ("logspace(0,1,2,3)", "expected 3 arguments, got 4"),
        ("range()", "expected 1 or 2 or 3 arguments, got 0"),
        ("range(1,2,3,4)", "expected 1 or 2 or 3 arguments, got 4"),
        ("list()", "at least one value"),
        ("list( )", "at least one value"),
        ("list(1,,2)", "empty value"),
        ("range(a,b)", '"a" is not a number'),
        ("range(0, true)", '"true" is not a number'),
        ("range(0, .inf)", "not a finite number"),
        ("range(5, 0)", "produces no values"),
        ("range(0, 1, -0.5)", "produces no values"),
        ("linspace(0,1,0)", "integer >= 1"),
        ("linspace(0,1,2.5)", "integer >= 1"),
        ("logspace(0, 400, 2)", "too large"),
        ("list(1, 2) extra", "unexpected text"),
        ("range(10000000000)", "more than the 1000000 allowed"),
    ],
)
def test_sweep_errors_quote_the_text_and_list_the_forms(text: str, reason: str) -> None:
    with pytest.raises(ParameterError, match="Accepted forms: list\\(a, b, ...\\)") as info:
        parse_sweep(text)
    assert f'"{text.strip()}"' in info.value.message
    assert reason in info.value.message
    assert isinstance(info.value, UsageError)
    assert info.value.exit_code == 2


def test_error_message_names_every_form() -> None:
    with pytest.raises(ParameterError, match=r"range\(start, stop\[, step\]\).*logspace"):
        parse_sweep("linspace(0,1)")


# --- expansion ---------------------------------------------------------------------


def test_expand_without_sweeps_is_one_member() -> None:
    params = {"lr": 0.1, "model": {"layers": 4}}
    assert expand(params) == [SweepMember(params=params, swept={})]
    assert count(params) == 1
    assert expand({}) == [SweepMember(params={}, swept={})]


def test_expand_grid_first_sweep_varies_slowest() -> None:
    params = {
        "lr": parse_sweep("list(0.1, 0.01)"),
        "epochs": 3,
        "model": {"layers": parse_sweep("range(1, 4)"), "act": "relu"},
    }
    members = expand(params)
    assert count(params) == 6
    assert [member.swept for member in members] == [
        {"lr": 0.1, "model.layers": 1},
        {"lr": 0.1, "model.layers": 2},
        {"lr": 0.1, "model.layers": 3},
        {"lr": 0.01, "model.layers": 1},
        {"lr": 0.01, "model.layers": 2},
        {"lr": 0.01, "model.layers": 3},
    ]
    assert members[4].params == {"lr": 0.01, "epochs": 3, "model": {"layers": 2, "act": "relu"}}


def test_expand_does_not_touch_its_input_or_share_values() -> None:
    params = {"opt": parse_sweep("list([1, 2], [3])"), "fixed": {"xs": [1]}}
    members = expand(params)
    members[0].params["opt"].append(99)
    members[0].params["fixed"]["xs"].append(99)
    members[0].swept["opt"].append(98)
    assert members[1].params == {"opt": [3], "fixed": {"xs": [1]}}
    assert params["fixed"] == {"xs": [1]}
    assert isinstance(params["opt"], Sweep)
    assert params["opt"].values == ([1, 2], [3])


def test_expand_with_literal_dotted_key_uses_it_as_the_path() -> None:
    params = {"model.lr": parse_sweep("list(1, 2)")}
    assert [member.params for member in expand(params)] == [{"model.lr": 1}, {"model.lr": 2}]


def test_count_checks_a_large_grid_without_expanding() -> None:
    params = {
        "a": parse_sweep("range(100)"),
        "b": parse_sweep("range(100)"),
        "c": {"d": parse_sweep("range(10)")},
    }
    assert count(params) == 100_000
    assert count(params) > SWEEP_LIMIT == 1000


# --- names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("swept", "expected"),
    [
        ({}, "run"),
        ({"lr": 0.001}, "run-lr=0.001"),
        ({"lr": 1e-05}, "run-lr=1e-05"),
        ({"lr": 0.1, "model.layers": 4}, "run-lr=0.1-model.layers=4"),
        ({"flag": True, "other": False, "x": None}, "run-flag=true-other=false-x=null"),
        ({"opt": "adam"}, "run-opt=adam"),
        ({"xs": [1, 2]}, "run-xs=[1,2]"),
        ({"lr": 1.0}, "run-lr=1.0"),
    ],
)
def test_member_name(swept: dict[str, Any], expected: str) -> None:
    assert member_name("run", swept) == expected


def test_member_name_without_base() -> None:
    assert member_name("", {"lr": 0.1}) == "lr=0.1"


# --- properties --------------------------------------------------------------------

distinct_ints = st.lists(st.integers(-1000, 1000), min_size=1, max_size=4, unique=True)
distinct_floats = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False).filter(lambda x: not x.is_integer()),
    min_size=1,
    max_size=4,
    unique=True,
)


def list_sweep(items: list[Any]) -> Sweep:
    sweep = parse_sweep(f"list({', '.join(repr(item) for item in items)})")
    assert sweep is not None
    return sweep


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(distinct_ints, distinct_floats), min_size=0, max_size=4))
def test_expansion_count_distinct_and_typed(columns: list[list[Any]]) -> None:
    params: dict[str, Any] = {"fixed": 1, "nested": {}}
    for index, items in enumerate(columns):
        target = params if index % 2 else params["nested"]
        target[f"p{index}"] = list_sweep(items)
    members = expand(params)
    assert len(members) == count(params) == math.prod(len(items) for items in columns)
    names = [member_name("run", member.swept) for member in members]
    assert len(set(names)) == len(members)
    for member in members:
        assert member.params["fixed"] == 1
        for index, items in enumerate(columns):
            key = f"p{index}" if index % 2 else f"nested.p{index}"
            value = member.swept[key]
            assert value in items
            assert type(value) is type(items[0])


@settings(max_examples=100, deadline=None)
@given(
    st.integers(-50, 50),
    st.integers(-50, 50),
    st.integers(-7, 7).filter(lambda step: step != 0),
)
def test_int_range_matches_python(start: int, stop: int, step: int) -> None:
    expected = tuple(range(start, stop, step))
    text = f"range({start}, {stop}, {step})"
    if not expected:
        with pytest.raises(ParameterError, match="produces no values"):
            parse_sweep(text)
    else:
        assert values(text) == expected


@settings(max_examples=100, deadline=None)
@given(st.floats(-100, 100), st.floats(-100, 100), st.integers(1, 50))
def test_linspace_has_num_floats_from_start_to_stop(start: float, stop: float, num: int) -> None:
    got = values(f"linspace({start!r}, {stop!r}, {num})")
    assert len(got) == num
    assert got[0] == start
    assert all(type(value) is float for value in got)
    if num > 1:
        assert got[-1] == stop
