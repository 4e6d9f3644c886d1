"""Load Sigma rule files and compile each rule to the IR, reporting every rule that fails.

A rule that cannot be compiled is never dropped silently: it comes back as a RuleFailure with its id,
file and reason, and `socpipe rules check` prints it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.rule import SigmaRule

from rules import correlation, ir
from rules.cache import RuleCache
from rules.correlation import Correlation, CorrelationError
from rules.filters import load_tuning
from rules.logsources import resolve
from rules.model import CompiledRule, RuleFailure, RuleSet
from rules.sigma_ir import IRBackend

RULE_SUFFIXES = (".yml", ".yaml")


def rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Rule files under the given files and folders, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        else:
            yield path


def placeholder_pipeline(placeholders: dict[str, list[str]]) -> ProcessingPipeline:
    """Fill `expand` placeholders (%name%) from configuration; an unknown name fails the rule."""
    return ProcessingPipeline(
        name="socpipe placeholders",
        priority=10,
        items=[ProcessingItem(ValueListPlaceholderTransformation(), identifier="placeholders")],
        vars=placeholders,
    )


def compile_rule(rule: SigmaRule, backend: IRBackend) -> CompiledRule:
    """Compile one parsed rule; raises SigmaError (or ValueError) with the reason."""
    if rule.errors:
        raise rule.errors[0]
    conditions = backend.convert_rule(rule)
    ls = rule.logsource
    mapping = resolve(ls.product, ls.category, ls.service)
    return CompiledRule(
        id=str(rule.id),
        title=rule.title,
        level=rule.level.name.lower() if rule.level else "informational",
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        path=str(rule.source.path) if rule.source and rule.source.path else "",
        logsource=(ls.product, ls.category, ls.service),
        sources=mapping.sources,
        logsource_exact=mapping.exact,
        condition=ir.or_(conditions),
        name=rule.name,
    )


def compile_file(path: Path, backend: IRBackend) -> list[CompiledRule | Correlation | RuleFailure]:
    """Every rule and correlation of one file, compiled or failed."""
    items: list[CompiledRule | Correlation | RuleFailure] = []
    for item in _parse_file(path):
        if not isinstance(item, SigmaRule):
            items.append(item)
            continue
        try:
            items.append(compile_rule(item, backend))
        except (SigmaError, ValueError, NotImplementedError) as e:
            items.append(RuleFailure(str(item.id), str(path), _reason(e)))
    return items


def load_rules(paths: Iterable[Path], placeholders: dict[str, list[str]] | None = None,
               cache_dir: Path | None = None) -> RuleSet:
    """Compile every rule under `paths`; failures are collected, never raised. With `cache_dir`, files
    compiled before (same bytes, placeholders and compiler) come from the cache (rules/cache.py)."""
    placeholders = placeholders or {}
    files = list(rule_files(paths))
    cache = RuleCache(cache_dir, placeholders) if cache_dir else None
    compiled: dict[Path, list[CompiledRule | RuleFailure]] = {}
    keys: dict[Path, str] = {}
    if cache:
        for path in files:
            try:
                keys[path] = cache.key(path.read_bytes(), path)
            except OSError:
                continue  # compile_file reports the file
            items = cache.get(keys[path])
            if items is not None:
                compiled[path] = items
    missing = [path for path in files if path not in compiled]
    for path, items in zip(missing, _compile_files(missing, placeholders), strict=True):
        compiled[path] = items
        if cache and path in keys:
            cache.put(keys[path], items)
    result = RuleSet(cache_hits=cache.hits if cache else 0)
    correlations: list[Correlation] = []
    for path in files:
        for item in compiled[path]:
            if isinstance(item, CompiledRule):
                result.rules.append(item)
            elif isinstance(item, Correlation):
                correlations.append(item)
            else:
                result.failures.append(item)
    _report_duplicates(result)
    result.correlations = correlation.resolve(correlations, result.rules, result.failures)
    load_tuning(files, result, IRBackend(processing_pipeline=placeholder_pipeline(placeholders)))
    return result


# Below this many files one process compiles them: starting workers (each imports pySigma) costs more.
PARALLEL_MIN_FILES = 200


def _compile_files(files: list[Path],
                   placeholders: dict[str, list[str]]) -> list[list[CompiledRule | Correlation | RuleFailure]]:
    """Compile files on every core (a cold cache of thousands of rules); results in the files' order."""
    workers = os.cpu_count() or 1
    if len(files) < PARALLEL_MIN_FILES or workers < 2:
        return _compile_chunk(files, placeholders)
    size = -(-len(files) // (workers * 4))  # a few chunks per worker evens out slow files
    chunks = [files[i:i + size] for i in range(0, len(files), size)]
    # spawn, not fork: the caller may hold a JVM gateway and its threads.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [items for chunk in pool.map(_compile_chunk, chunks, [placeholders] * len(chunks)) for items in chunk]


def _compile_chunk(files: list[Path],
                   placeholders: dict[str, list[str]]) -> list[list[CompiledRule | Correlation | RuleFailure]]:
    backend = IRBackend(processing_pipeline=placeholder_pipeline(placeholders))
    return [compile_file(path, backend) for path in files]


def _parse_file(path: Path) -> Iterator[SigmaRule | Correlation | RuleFailure]:
    """The file's rules as pySigma parses them, and its correlations as rules/correlation.py does."""
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        yield RuleFailure(_id_from_text(path), str(path), _reason(e))
        return
    sigma_docs = []
    for doc in docs:
        if isinstance(doc, dict) and "correlation" in doc:
            try:
                yield correlation.parse(doc, str(path))
            except CorrelationError as e:
                yield RuleFailure(str(doc.get("id") or "?"), str(path), f"correlation: {e}")
        else:
            sigma_docs.append(doc)
    try:
        collection = SigmaCollection.from_dicts(sigma_docs, collect_errors=True, source=SigmaRuleLocation(path),
                                                collect_filters=True)  # filters: rules/filters.py
    except SigmaError as e:
        yield RuleFailure(_id_from_text(path), str(path), _reason(e))
        return
    reported: set[int] = set()
    for item in collection:
        reported.update(id(e) for e in item.errors)
        if isinstance(item, SigmaRule):
            yield item  # a rule carrying errors fails in compile_rule, once
    for error in collection.errors:
        if id(error) not in reported:
            yield RuleFailure(_id_from_text(path), str(path), _reason(error))


def _id_from_text(path: Path) -> str:
    """The rule id as written in a file that pySigma could not parse, or '?' when there is none."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return str(doc.get("id", "?")) if isinstance(doc, dict) else "?"
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "?"


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


def _report_duplicates(result: RuleSet) -> None:
    """Two rules with one id would give colliding alert ids: keep the first, report the second."""
    seen: dict[str, CompiledRule] = {}
    kept: list[CompiledRule] = []
    for r in result.rules:
        if r.id in seen:
            result.failures.append(RuleFailure(r.id, r.path, f"duplicate rule id (also in {seen[r.id].path})"))
        else:
            seen[r.id] = r
            kept.append(r)
    result.rules = kept
