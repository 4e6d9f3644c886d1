"""`--config FILE` is one option: before or after any subcommand, with the same meaning (issue 9)."""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from socpipe.cli import build_parser, main


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every runnable command: (its words, its parser), found by walking the parser itself, so a
    subcommand added later is tested without being listed here."""
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield path, parser
        return
    for name, sub in subcommands[0].choices.items():
        yield from leaf_commands(sub, (*path, name))


def required_arguments(parser: argparse.ArgumentParser) -> list[str]:
    """Values for the arguments a command cannot do without (a valid one for typed options)."""
    words: list[str] = []
    for action in parser._actions:
        if action.option_strings and not action.required:
            continue
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        value = next(iter(action.choices)) if action.choices else _valid_value(action)
        count = action.nargs if isinstance(action.nargs, int) else 1
        words += [*action.option_strings[:1], *[value] * count]
    return words


def _valid_value(action: argparse.Action) -> str:
    for candidate in ("2026-01-01", "x"):
        try:
            (action.type or str)(candidate)
        except ValueError:
            continue
        return candidate
    raise AssertionError(f"no value for {action.dest}")


COMMANDS = sorted(leaf_commands(build_parser()), key=lambda c: c[0])


def test_every_command_is_walked() -> None:
    names = {" ".join(words) for words, _ in COMMANDS}
    assert {"run", "detect", "demo", "collect syslog", "collect file", "collect import", "rules check",
            "rules regress", "serve", "users add", "dev", "dashboards export", "audit summary",
            "retention", "national"} <= names


@pytest.mark.parametrize(("words", "command"), COMMANDS, ids=[" ".join(w) for w, _ in COMMANDS])
def test_config_before_or_after_the_subcommand_means_the_same(words: tuple[str, ...],
                                                             command: argparse.ArgumentParser) -> None:
    rest = required_arguments(command)
    parse = build_parser().parse_args
    before = parse(["--config", "a.yaml", *words, *rest])
    after = parse([*words, "--config", "a.yaml", *rest])
    last = parse([*words, *rest, "--config", "a.yaml"])
    assert before.config == after.config == last.config == Path("a.yaml")
    assert vars(before) == vars(after) == vars(last)
    assert parse([*words, *rest]).config is None
    if len(words) > 1:  # between the words of a nested command, too
        between = parse([words[0], "--config", "a.yaml", *words[1:], *rest])
        assert vars(between) == vars(before)


def test_run_accepts_config_after_the_subcommand() -> None:
    """The case of the issue: `socpipe run --config F` was refused."""
    assert build_parser().parse_args(["run", "--config", "f.yaml", "--once"]).config == Path("f.yaml")


def test_the_configuration_given_after_the_subcommand_is_loaded(tmp_path: Path) -> None:
    rule = tmp_path / "rule.yml"
    rule.write_text("title: T\nid: 11111111-1111-4111-8111-111111111111\nlogsource: {product: windows}\n"
                    "detection:\n  sel:\n    Image: x\n  condition: sel\n", encoding="utf-8")
    config = tmp_path / "socpipe.yaml"
    config.write_text(f"rules:\n  cache_dir: {tmp_path / 'cache'}\n", encoding="utf-8")
    outputs = []
    for argv in (["--config", str(config), "rules", "check", str(rule)],
                 ["rules", "check", "--config", str(config), str(rule)],
                 ["rules", "check", str(rule), "--config", str(config)]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(argv) == 0
        outputs.append(out.getvalue())
    assert f"rule cache {tmp_path / 'cache'}" in outputs[0]
    assert outputs[1].replace("1 files reused", "0 files reused") == outputs[0]
    assert outputs[2] == outputs[1]
