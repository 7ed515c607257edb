"""Tool descriptions read from docstrings in each style people write."""

from __future__ import annotations

from voicewire import tool
from voicewire.tools._docstrings import parse_docstring


def test_numpy_parameters_section() -> None:
    @tool
    def forecast(city: str, days: int = 1) -> str:
        """Get the forecast.

        Parameters
        ----------
        city : str
            The city name,
            for example "Paris".
        days : int
            How many days ahead.

        Returns
        -------
        str
        """
        return city

    assert forecast.description == "Get the forecast."
    props = forecast.parameters["properties"]
    assert props["city"]["description"] == 'The city name, for example "Paris".'
    assert props["days"]["description"] == "How many days ahead."


def test_google_keyword_args_section() -> None:
    @tool
    def lookup(*, city: str) -> str:
        """Look up a city.

        Keyword Args:
            city: The city to look up.
        """
        return city

    assert lookup.parameters["properties"]["city"]["description"] == "The city to look up."


def test_summary_is_the_first_paragraph_even_without_a_blank_line_before_args() -> None:
    parsed = parse_docstring("Summary on\ntwo lines.\nArgs:\n    x: The x.")
    assert parsed.summary == "Summary on two lines."
    assert parsed.params == {"x": "The x."}


def test_a_docstring_no_style_reads_still_gives_its_summary() -> None:
    assert parse_docstring("Just a summary.\n\nMore text.").summary == "Just a summary."
    assert parse_docstring(None).summary == ""
