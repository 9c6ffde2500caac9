"""``ccm.cli.output``: the one place commands render JSON, a rich table or HTML to stdout or a file."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ccm.cli.output import emit
from ccm.io.numbers import json_number


def _never(*_):
    raise AssertionError("the table renderer must not run for this format")


def test_json_to_a_file_is_indented_with_null_for_none(tmp_path):
    out = tmp_path / "doc.json"
    emit("json", out, doc={"a": 1.5, "b": None, "c": [1, 2]}, table=_never)
    assert out.read_text() == '{\n "a": 1.5,\n "b": null,\n "c": [\n  1,\n  2\n ]\n}'


def test_json_refuses_nan_and_writes_nothing(tmp_path):
    out = tmp_path / "doc.json"
    with pytest.raises(ValueError):
        emit("json", out, doc={"x": math.nan}, table=_never)
    assert not out.exists()


def test_table_to_a_file_is_plain_text_at_the_given_width(tmp_path):
    out = tmp_path / "table.txt"
    emit("table", out, doc=None, table=lambda console: (console.print("[bold red]hello[/]"), console.rule()),
         width=40)
    assert out.read_text().splitlines() == ["hello", "─" * 40]


def test_table_to_a_pipe_prints_to_stdout(capsys):
    emit("table", None, doc=None, table=lambda console: console.print("[bold]plain[/]"))
    assert capsys.readouterr().out == "plain\n"


def test_html_is_written_as_given_and_only_where_offered(tmp_path):
    out = tmp_path / "page.html"
    emit("html", out, doc=None, table=_never, html=lambda: "<p>report</p>")
    assert out.read_text() == "<p>report</p>"
    with pytest.raises(ValueError):
        emit("html", tmp_path / "none.html", doc=None, table=_never)


def test_json_number_is_a_float_or_none():
    assert json_number(np.float64(2.5)) == 2.5 and type(json_number(np.float64(2.5))) is float
    assert json_number(np.int64(3)) == 3.0
    assert json_number(math.inf) is None and json_number(-np.inf) is None and json_number(np.nan) is None


def test_exit_on_error_turns_an_input_error_into_one_red_line_and_exit_2(capsys):
    import typer

    from ccm.cli.output import exit_on_error
    from ccm.errors import InputError

    with pytest.raises(typer.Exit) as caught, exit_on_error():
        raise InputError("bad value", file="book.json", record="accounts[0]", field="id")
    assert caught.value.exit_code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "book.json" in err and "bad value" in err


def test_exit_on_error_lets_other_exceptions_and_success_through():
    from ccm.cli.output import exit_on_error

    with exit_on_error():
        pass
    with pytest.raises(KeyError), exit_on_error():
        raise KeyError("a bug is a traceback, not an input error")
