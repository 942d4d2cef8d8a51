"""ParameterError: the library spells a parameter as the API does, a front end as it likes (the CLI: its flag)."""

from __future__ import annotations

import pytest

from alphanas.errors import AlphanasError, ParameterError
from alphanas.search.executors import make_executor


def test_parameter_error_spells_every_named_parameter():
    e = ParameterError("address", "{address} is for {executor} ray; {braces} stay", others=("executor",))
    assert isinstance(e, AlphanasError) and e.parameter == "address"
    assert str(e) == "address is for executor ray; {braces} stay"
    cli = e.spelled(lambda name: "--" + name)
    assert isinstance(cli, AlphanasError) and str(cli) == "--address is for --executor ray; {braces} stay"


def test_library_messages_name_parameters_not_flags():
    with pytest.raises(ParameterError) as info:
        make_executor("process", address="10.0.0.1:6379")
    assert "--" not in str(info.value) and info.value.parameter == "address"


def test_an_error_quoting_a_multi_line_message_prints_one_line(capsys):
    from alphanas.console import report_error

    assert report_error(AlphanasError("checker said: first\n  second\n\nthird")) == 2
    assert capsys.readouterr().err == "alphanas: error: checker said: first second third\n"
