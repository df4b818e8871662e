"""Errors raised by the analysis.

Every error names the model, the construct, where it is and what to do instead, so that
`dbt run` can show it as is.
"""

from __future__ import annotations


class TviewError(Exception):
    """Root of every error the analysis raises."""

    def __init__(self, model: str, problem: str, *, where: str = "", hint: str = "") -> None:
        self.model = model
        self.problem = problem
        self.where = where
        self.hint = hint
        parts = [f"tview {model}: {problem}"]
        if where:
            parts.append(f"  where: {where}")
        if hint:
            parts.append(f"  hint: {hint}")
        super().__init__("\n".join(parts))


class UnsupportedConstruct(TviewError):
    """The SELECT uses something that cannot be maintained by key."""


class KeyError_(TviewError):
    """The unique key is missing, ambiguous or not derivable from the SELECT."""


class SourceError(TviewError):
    """A relation read by the SELECT is missing or is not a table."""


class ParseError(TviewError):
    """The SELECT could not be parsed or qualified."""
