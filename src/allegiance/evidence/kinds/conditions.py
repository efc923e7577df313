"""Evidence on the conditions and chances: ``condition`` (observed) and ``report`` (soft).

``condition``
    A condition observed: ``condition`` and ``value`` (true/false for a
    binary condition, a number in [0, 1] for a level), weighed by its grade.
``report``
    Soft evidence: a report that ``favours`` one state (true/false) of a
    ``target`` (a binary condition, a level: true for high, false for low, a
    chance outcome ``propensity.actor``, or a hazard's event ``hazard.actor``
    by the end of the report's month) by a ``likelihood_ratio`` (> 0) or a
    ``strength`` word (weakly 2, moderately 4, strongly 10, very strongly 30).
    Its log-likelihood ratio is multiplied by the weight of its grade
    (:func:`allegiance.words.grade_weight`: A1 = 1, C3 = 0.36, ...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from allegiance.evidence.kinds.base import EvidenceKind, observed_log_likelihood, report_log_ratio
from allegiance.reading import KeyReader, short
from allegiance.spec import ModelSpec, months_between
from allegiance.words import grade_weight, known_report_words, report_ratio

if TYPE_CHECKING:
    from allegiance.evidence.arrays import Arrays
    from allegiance.evidence.items import Item


def condition_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Read a ``condition`` item's fields: a binary condition's truth or a level's value."""
    cid = r.member(body["condition"], f"{key}.condition", spec.conditions, "condition")
    value = body["value"]
    switch = spec.conditions[cid].switch
    if switch is not None:
        raise r.fail(
            f"{key}.condition",
            f"{short(cid)} is a switch: "
            + (
                f"it turns true on {switch.date}, as the model file says."
                if switch.date
                else f"it turns true on the event of {'.'.join(filter(None, switch.after or ()))}."
            ),
            "record that event (kind: event) instead."
            if switch.after
            else "change the date in the model file, or make the condition binary.",
        )
    if spec.conditions[cid].kind == "binary":
        if not isinstance(value, bool):
            raise r.fail(
                f"{key}.value",
                f"{short(cid)} is yes/no; got {short(value)}.",
                "write true or false.",
            )
    elif not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise r.fail(
            f"{key}.value",
            f"{short(cid)} is a level in [0, 1]; got {short(value)}.",
            "give a number between 0 and 1.",
        )
    return {"condition": cid, "value": value}


def fill_condition(arrays: Arrays, item: Item) -> None:
    """Observe a condition, once: a binary one's log-likelihoods, or a level's value."""
    f, spec, data = item.fields, arrays.spec, arrays.data
    if not arrays.first(f["condition"], item, repr(f["condition"])):
        return
    if f["condition"] in spec.binary_conditions:
        b = spec.binary_conditions.index(f["condition"])
        seen, other = observed_log_likelihood(item.grade)
        data.condition_loglik[b] += [seen, other] if not f["value"] else [other, seen]
    else:
        j = spec.level_conditions.index(f["condition"])
        data.level_value[j], data.level_mask[j] = float(f["value"]), grade_weight(item.grade)


def _report_target(r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec) -> str:
    target = r.text(body["target"], f"{key}.target")
    node, _, actor = target.partition(".")
    outcome = node in spec.propensities  # a chance outcome, or a hazard event by a date
    if outcome and spec.slots.count((node, actor)) == 0:
        raise r.fail(
            f"{key}.target",
            f"{short(target)} names no member of the propensity {short(node)}.",
            "write propensity.actor with an actor the propensity lists.",
        )
    if not (target in spec.binary_conditions or target in spec.level_conditions or outcome):
        chances = [f"{n}.{a}" for n, a in spec.slots]
        raise r.fail(
            f"{key}.target",
            f"unknown target {short(target)}: a report favours a state of a condition (a level: "
            "true for high, false for low) or an outcome (propensity.actor: a chance "
            "outcome, or a hazard's event by the report's date).",
            "use one of: "
            + ", ".join([*spec.binary_conditions, *spec.level_conditions, *chances])
            + ".",
        )
    return target


def report_fields(
    r: KeyReader, body: Mapping[str, Any], key: str, spec: ModelSpec
) -> dict[str, Any]:
    """Read a ``report`` item's fields: its target, the state it favours and by how much."""
    target = _report_target(r, body, key, spec)
    favours = r.boolean(body["favours"], f"{key}.favours")
    out: dict[str, Any] = {"target": target, "favours": favours}
    if ("likelihood_ratio" in body) == ("strength" in body):
        raise r.fail(
            key,
            "give exactly one of 'likelihood_ratio' and 'strength'.",
            "e.g. likelihood_ratio: 3, or strength: moderately.",
        )
    if "likelihood_ratio" in body:
        ratio = body["likelihood_ratio"]
        try:
            ok = isinstance(ratio, int | float) and not isinstance(ratio, bool)
            ok = ok and math.isfinite(ratio) and ratio > 0
        except OverflowError:  # an integer too large for a float
            ok = False
        if not ok:
            raise r.fail(
                f"{key}.likelihood_ratio",
                f"a likelihood ratio must be a finite number > 0, got {str(ratio)[:40]}.",
                "a ratio of 1 means no evidence; below 1 favours the other state.",
            )
        out["likelihood_ratio"] = float(ratio)
    else:
        if not isinstance(body["strength"], str) or report_ratio(body["strength"]) is None:
            raise r.fail(
                f"{key}.strength",
                f"unknown report strength {short(body['strength'])}.",
                "use one of: " + ", ".join(known_report_words()) + ".",
            )
        out["strength"] = body["strength"]
    return out


def fill_report(arrays: Arrays, item: Item) -> None:
    """Add a report's tempered log-likelihood ratio to its condition, level or slot."""
    f, spec, data = item.fields, arrays.spec, arrays.data
    node, _, actor = f["target"].partition(".")
    propensity = spec.propensities.get(node)
    if propensity is not None and propensity.kind == "hazard":
        _fill_outcome_report(arrays, item)
        return
    log_lr = report_log_ratio(item)
    if f["target"] in spec.binary_conditions:
        b = spec.binary_conditions.index(f["target"])
        data.condition_loglik[b, int(f["favours"])] += log_lr
    elif f["target"] in spec.level_conditions:
        j = spec.level_conditions.index(f["target"])
        data.level_log_lr[j] += log_lr if f["favours"] else -log_lr
    else:
        k = spec.slots.index((node, actor))
        data.slot_log_lr[k] += log_lr if f["favours"] else -log_lr


def _fill_outcome_report(arrays: Arrays, item: Item) -> None:
    """Record a report that a hazard's event happened (or not) by the end of its month."""
    f, spec = item.fields, arrays.spec
    node, _, actor = f["target"].partition(".")
    k = spec.slots.index((node, actor))
    months = months_between(spec.analysis_date, item.date) + 1
    earlier = arrays.observed.get(("outcome report", k))
    if earlier is not None and earlier.date.strftime("%Y-%m") != item.date.strftime("%Y-%m"):
        raise arrays.r.fail(
            f"items.{item.id}",
            f"reports {f['target']} as of {item.date:%Y-%m}, and item {earlier.id!r} as of "
            f"{earlier.date:%Y-%m}: reports of one outcome must share a month.",
            "keep the latest report, and retract the earlier one.",
        )
    arrays.observed[("outcome report", k)] = item
    log_lr = report_log_ratio(item)
    arrays.data.slot_outcome_log_lr[k] += log_lr if f["favours"] else -log_lr
    arrays.data.slot_outcome_months[k] = months


CONDITION = EvidenceKind("condition", ("condition", "value"), (), condition_fields, fill_condition)
REPORT = EvidenceKind(
    "report", ("target", "favours"), ("likelihood_ratio", "strength"), report_fields, fill_report
)
