"""The CLI documents itself: every command, subcommand, argument and flag has
help text, and the commands the README shows exist and parse (after
sqlite-utils' tests/test_docs.py)."""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Iterator

import pytest

from aghmem.faces.cli.main import build_parser
from conftest import ROOT


def parsers(parser: argparse.ArgumentParser, path: str = "aghmem") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """`parser` and every parser below it, each with its command line."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}")


def undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest: choice.help for choice in action._choices_actions}
            missing += [f"{path} {name}" for name in action.choices if not helped.get(name)]
        elif not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    if not parser.description:
        missing.append(f"{path} (no description)")
    return missing


def test_walks_the_whole_tree() -> None:
    paths = {path for path, _ in parsers(build_parser())}
    assert {"aghmem memory edit", "aghmem decisions revert", "aghmem workspace add", "aghmem dream retry", "aghmem serve"} <= paths


def test_every_command_and_flag_has_help() -> None:
    missing = [item for path, parser in parsers(build_parser()) for item in undocumented(parser, path)]
    assert missing == []


def test_the_walk_finds_what_has_no_help() -> None:
    parser = argparse.ArgumentParser(prog="x", description="x")
    commands = parser.add_subparsers(dest="command")
    sub = commands.add_parser("bare", description="no help in the list")
    sub.add_argument("--quiet", action="store_true")
    sub.add_argument("thing")
    assert [item for path, p in parsers(parser, "x") for item in undocumented(p, path)] == [
        "x bare", "x bare --quiet", "x bare thing",
    ]


def readme_command_lines() -> list[str]:
    """The `$ aghmem …` lines of the README's examples."""
    text = (ROOT / "README.md").read_text()
    return [line[2:] for line in text.splitlines() if line.startswith("$ aghmem ")]


@pytest.mark.parametrize("line", readme_command_lines())
def test_readme_examples_parse(line: str) -> None:
    build_parser().parse_args(shlex.split(line)[1:])


def test_readme_names_only_commands_that_exist() -> None:
    """Every `aghmem WORD…` the README names in code is a command (and its
    subcommands, as in `aghmem memory show|write|edit|delete`) or an option."""
    text = (ROOT / "README.md").read_text()
    tree: dict[str, set[str]] = {}
    for path, _ in parsers(build_parser()):
        command, *sub = path.split()[1:] or [""]
        if command:
            tree.setdefault(command, set()).update(sub)
    named = re.findall(r"`aghmem ([a-z-]+)(?:\s+([a-z|\s-]+?))?[`\s\[]", text.replace("\n", " "))
    assert named
    options = {option for action in build_parser()._actions for option in action.option_strings}
    for command, rest in named:
        if command.startswith("-"):
            assert command in options, command
            continue
        assert command in tree, command
        if tree[command] and rest:
            for sub in rest.split()[0].split("|"):
                assert sub in tree[command], f"aghmem {command} {sub}"
    assert len(readme_command_lines()) >= 10
