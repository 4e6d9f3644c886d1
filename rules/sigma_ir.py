"""pySigma backend that turns a rule's condition into the detection IR (rules/ir.py).

pySigma parses the YAML, applies modifiers (contains, windash, base64offset, utf16, cidr, ...) and the
processing pipeline; this backend only maps each resulting condition node to one IR node. Renderers
for Spark SQL and Python subclass or consume it, so Sigma semantics are decided here, once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError, SigmaValueError
from sigma.modifiers import SigmaWideModifier, modifier_mapping, reverse_modifier_mapping
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from rules import ir

_COMPARE = {
    CompareOperators.GT: ir.GT,
    CompareOperators.GTE: ir.GTE,
    CompareOperators.LT: ir.LT,
    CompareOperators.LTE: ir.LTE,
}
# Sigma spec v2.1 names UTF-16LE `utf16le`; pySigma 1.5 knows it only as `wide`.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)
reverse_modifier_mapping.setdefault(SigmaWideModifier.__name__, "wide")

_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def string_match(field: str | None, value: SigmaString, cased: bool) -> ir.Node:
    """A Sigma string (with wildcards) as the narrowest IR match: eq, prefix, suffix, contains or like."""
    parts: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise SigmaValueError(f"unfilled placeholder %{part.name}%: set it under rules.placeholders")
        if isinstance(part, str):
            if parts and isinstance(parts[-1], str):
                parts[-1] += part
            elif part:
                parts.append(part)
        elif not (part == SpecialChars.WILDCARD_MULTI and parts and parts[-1] == part):
            parts.append(part)
    if not cased:
        parts = [p.lower() if isinstance(p, str) else p for p in parts]
    star = SpecialChars.WILDCARD_MULTI
    texts = [p for p in parts if isinstance(p, str)]
    if parts == [star]:
        return ir.Exists(field) if field else ir.Const(True)
    if not parts:
        return ir.Str(field, ir.EQ, "", cased)
    if SpecialChars.WILDCARD_SINGLE not in parts and len(texts) == 1:
        shape = tuple(p == star for p in parts)
        op = {
            (False,): ir.EQ,
            (False, True): ir.PREFIX,
            (True, False): ir.SUFFIX,
            (True, False, True): ir.CONTAINS,
        }.get(shape)
        if op:
            return ir.Str(field, op, texts[0], cased)
    pattern = "".join(
        "*" if p == star else "?" if isinstance(p, SpecialChars) else _escape_like(p) for p in parts
    )
    return ir.Str(field, ir.LIKE, pattern, cased)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def keyword(value: SigmaString, cased: bool = False) -> ir.Node:
    """Sigma keywords are searched as substrings of every field value."""
    star = SigmaString("*")
    return string_match(None, star + value + star, cased)


class IRBackend(Backend):
    """Converts Sigma conditions into IR trees; `convert_rule` returns one tree per condition."""

    name: ClassVar[str] = "socpipe detection IR"
    formats: ClassVar[dict[str, str]] = {"default": "IR tree (rules/ir.py)"}
    requires_pipeline: ClassVar[bool] = False

    def convert_condition_as_in_expression(self, cond: Any, state: ConversionState) -> Any:
        raise NotImplementedError  # convert_or_as_in is off: OR lists stay ORs

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> ir.Node:
        return ir.or_([self.convert_condition(a, state) for a in cond.args])

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> ir.Node:
        return ir.and_([self.convert_condition(a, state) for a in cond.args])

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> ir.Node:
        return ir.not_(self.convert_condition(cond.args[0], state))

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return string_match(cond.field, cond.value, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return string_match(cond.field, cond.value, cased=True)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Str(cond.field, ir.EQ, str(cond.value.number), cased=True)

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value: SigmaBool = cond.value
        return ir.Str(cond.field, ir.EQ, "true" if value.boolean else "false")

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return self._regex(cond.field, cond.value)

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value: SigmaCIDRExpression = cond.value
        return ir.Cidr(cond.field, str(value.network))

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value: SigmaCompareExpression = cond.value
        return ir.Compare(cond.field, _COMPARE[value.op], float(value.number.number))

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        ref: SigmaFieldReference = cond.value
        op = {(False, False): ir.EQ, (True, False): ir.PREFIX, (False, True): ir.SUFFIX}.get(
            (ref.starts_with, ref.ends_with), ir.CONTAINS
        )
        return ir.FieldRef(cond.field, ref.field, op)

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Null(cond.field)

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Exists(cond.field)

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.not_(ir.Exists(cond.field))

    def convert_condition_field_eq_val_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        value: SigmaExists = cond.value
        exists = ir.Exists(cond.field)
        return exists if value.exists else ir.not_(exists)

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> ir.Node:
        return keyword(cond.value, cased=isinstance(cond.value, SigmaCasedString))

    def convert_condition_val_num(self, cond: ConditionValueExpression, state: ConversionState) -> ir.Node:
        value: SigmaNumber = cond.value
        return keyword(SigmaString(str(value.number)))

    def convert_condition_val_re(self, cond: ConditionValueExpression, state: ConversionState) -> ir.Node:
        return self._regex(None, cond.value)

    def _regex(self, field: str | None, value: SigmaRegularExpression) -> ir.Node:
        if value.regexp.contains_placeholder():
            raise SigmaValueError("unfilled placeholder in regular expression")
        flags = "".join(sorted(_FLAGS[f] for f in value.flags))
        node = ir.Regex(field, value.regexp.to_plain(), flags)
        try:
            ir.check_regex(node)
        except ValueError as e:
            raise SigmaValueError(str(e)) from e
        return node

    def _unsupported(self, what: str) -> None:
        raise SigmaFeatureNotSupportedByBackendError(f"{what} is not supported by socpipe")

    def convert_condition_field_eq_val_timestamp_part(self, cond: Any, state: ConversionState) -> Any:
        self._unsupported("timestamp part modifiers (minute, hour, day, ...)")

    def convert_condition_field_eq_query_expr(self, cond: Any, state: ConversionState) -> Any:
        self._unsupported("query expression placeholders")

    def convert_condition_query_expr(self, cond: Any, state: ConversionState) -> Any:
        self._unsupported("query expression placeholders")

    def _no_correlation(self, *args: Any, **kwargs: Any) -> Any:
        raise SigmaFeatureNotSupportedByBackendError("correlation rules run in layer 2, not here")

    convert_correlation_event_count_rule = _no_correlation
    convert_correlation_value_count_rule = _no_correlation
    convert_correlation_temporal_rule = _no_correlation
    convert_correlation_temporal_ordered_rule = _no_correlation
    convert_correlation_extended_temporal_rule = _no_correlation
    convert_correlation_extended_temporal_ordered_rule = _no_correlation
    convert_correlation_value_sum_rule = _no_correlation
    convert_correlation_value_avg_rule = _no_correlation
    convert_correlation_value_median_rule = _no_correlation
    convert_correlation_value_percentile_rule = _no_correlation

    def finalize_query_default(self, rule: Any, query: ir.Node, index: int, state: ConversionState) -> Any:
        return query
