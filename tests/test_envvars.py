""".dev.vars / .env files read by python-dotenv: its rules, and its complaints turned into ConfigErrors."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from dotenv import dotenv_values

from workerlab.envvars import read_dotenv
from workerlab.errors import ConfigError


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # errors name the file as ".dev.vars"


def dotenv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".dev.vars"
    path.write_bytes(text.encode())
    return path


def test_python_dotenv_rules(tmp_path: Path) -> None:
    text = (
        "\ufeff1ST=digits first\n"
        "'QUOTED KEY'=1\n"
        "HASH=a#b\n"
        'ESCAPES="tab\\there \\\\ \\"q\\""\n'
        "TICKS=`x`\n"
        "DOLLAR=${HOME}\n"
        "EMPTY_COMMENT= # nothing\n"
    )
    assert read_dotenv(dotenv(tmp_path, text)) == {
        "1ST": "digits first",
        "QUOTED KEY": "1",
        "HASH": "a#b",
        "ESCAPES": 'tab\there \\ "q"',
        "TICKS": "`x`",
        "DOLLAR": "${HOME}",
        "EMPTY_COMMENT": "",
    }


def test_windows_line_breaks(tmp_path: Path) -> None:
    assert read_dotenv(dotenv(tmp_path, 'A=1\r\nB="two\r\nlines"\r\n')) == {"A": "1", "B": "two\nlines"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\n\n  \n\nB C=2\n", 'line 5 must be KEY=VALUE, found "B C=2"'),
        ("A=1\n# c\nexport ALONE # no value\n", 'line 3 must be KEY=VALUE, found "export ALONE # no value"'),
        ("'ALONE'\n", "line 1 must be KEY=VALUE, found \"'ALONE'\""),
        (
            'A="x\ny" z\n',
            'line 1 must be KEY=VALUE with nothing but a # comment after the quote, found "A=\\"x"',
        ),
        ("A='it\\'s\n", "line 1 must be KEY=VALUE with the ' quote closed"),
        ("ALONE\n=x\n", 'line 1 must be KEY=VALUE, found "ALONE"'),
        ("=x\nALONE\n", 'line 1 must be KEY=VALUE, found "=x"'),
    ],
)
def test_the_first_malformed_line_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_dotenv(dotenv(tmp_path, text))
    assert str(caught.value).startswith(f".dev.vars: {message}")


def test_python_dotenv_records_are_taken_only_while_reading(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError):
        read_dotenv(dotenv(tmp_path, "=x\n"))
    assert caplog.records == []
    dotenv_values(stream=io.StringIO("=x\n"))  # someone else's use logs as python-dotenv means it to
    assert [record.name for record in caplog.records] == ["dotenv.main"]


def test_a_complaint_of_another_shape_is_still_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def complaining(**_kwargs: object) -> dict[str, str | None]:
        logging.getLogger("dotenv.main").warning("could not parse %s at %s", "it", "somewhere")
        return {}

    monkeypatch.setattr("dotenv.dotenv_values", complaining)
    with pytest.raises(ConfigError, match=r"^\.dev\.vars: could not parse it at somewhere$"):
        read_dotenv(dotenv(tmp_path, "A=1\n"))


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / ".dev.vars"
    path.write_bytes(b"A=\xff\n")
    with pytest.raises(ConfigError, match=r"^\.dev\.vars: cannot read the file: .*utf-8"):
        read_dotenv(path)
