"""Reader for the fixture files under tests/unit/fixtures (format described in fixtures/README.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

FIXTURES = Path(__file__).parent / "fixtures"

_DIRECTIVE = re.compile(r"^--\s(?P<name>[A-Za-z_][\w .-]*?):(?:\s(?P<value>.*))?$")
_CONTINUATION = re.compile(r"^--\s{3,}(?P<text>\S.*)$")
_SOURCE = re.compile(
    r"^expect source (?P<source>[\w$]+\.[\w$]+) "
    r"(?P<what>columns|direct|joined|key_query contains|key_query excludes)$"
)


@dataclass
class SourceExpectation:
    columns: tuple[str, ...] | None = None
    direct: bool | None = None
    key_query: str | None = None
    contains: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)


@dataclass
class Fixture:
    path: Path
    sql: str  # the model's SELECT: the file without its header
    unique_key: list[str] | None = None
    key_columns: tuple[str, ...] | None = None
    sources: dict[str, SourceExpectation] = field(default_factory=dict)
    error: tuple[str, str] | None = None  # (exception class name, substring of the message)
    error_excludes: list[str] = field(default_factory=list)  # substrings the message must not have

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> str:
        return self.path.name.removesuffix(".sql").removesuffix("__invalid")


def _split_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def load(path: Path) -> Fixture:
    lines = path.read_text(encoding="utf-8").splitlines()
    header: list[tuple[str, list[str]]] = []
    body_start = len(lines)
    for i, line in enumerate(lines):
        if not line.startswith("--"):
            body_start = i
            break
        cont = _CONTINUATION.match(line)
        if cont and header:
            header[-1][1].append(cont.group("text").rstrip())
            continue
        m = _DIRECTIVE.match(line)
        if m and (m.group("name") == "unique_key" or m.group("name").startswith("expect")):
            header.append((m.group("name"), [m.group("value").rstrip()] if m.group("value") else []))
        # any other comment line is a description
    fixture = Fixture(path=path, sql="\n".join(lines[body_start:]).strip() + "\n")
    for name, parts in header:
        value = "\n".join(parts)
        if name == "unique_key":
            fixture.unique_key = _split_list(value)
        elif name == "expect key_columns":
            fixture.key_columns = tuple(_split_list(value))
        elif name == "expect error":
            cls, _, text = value.partition(":")
            fixture.error = (cls.strip(), text.strip())
        elif name == "expect error excludes":
            fixture.error_excludes.append(value)
        else:
            m = _SOURCE.match(name)
            if m is None:
                raise ValueError(f"{path.name}: unknown directive {name!r}")
            exp_ = fixture.sources.setdefault(m.group("source"), SourceExpectation())
            what = m.group("what")
            if what == "columns":
                exp_.columns = tuple(_split_list(value))
            elif what in ("direct", "joined"):
                exp_.direct = what == "direct"
                exp_.key_query = value
            elif what == "key_query contains":
                exp_.contains.append(value)
            else:
                exp_.excludes.append(value)
    return fixture


def fixtures(kind: str) -> list[Fixture]:
    return [load(p) for p in sorted((FIXTURES / kind).glob("*.sql"))]


def normalize_sql(sql: str) -> str:
    """The SQL as PostgreSQL reads it: parsed, unquoted identifiers folded to lower case, every
    identifier quoted, comments and layout dropped. Raises sqlglot's ParseError on invalid SQL."""
    tree = sqlglot.parse_one(sql, read="postgres")
    tree = normalize_identifiers(tree, dialect="postgres")
    return tree.sql(dialect="postgres", identify=True, comments=False)
