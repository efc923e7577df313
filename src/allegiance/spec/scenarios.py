"""Named scenarios of a model file: what the forecasts would be if some conditions were otherwise.

A scenario sets binary conditions, by intervention (``do``, the default) or as
if observed (``observe``); :mod:`allegiance.update.scenarios` says how the
two differ. Reports show every named scenario beside the forecast as it stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from allegiance.reading import KeyReader, short
from allegiance.spec.types import Condition, Scenario

SCENARIO_MODES = ("do", "observe")


def read_scenarios(
    r: KeyReader, node: Any, conditions: Mapping[str, Condition]
) -> dict[str, Scenario]:
    """Read the ``scenarios`` section: each one's text, setting and mode."""
    binary = [c for c, body in conditions.items() if body.kind == "binary"]
    out: dict[str, Scenario] = {}
    for name, body in r.mapping(node, "scenarios").items():
        key = f"scenarios.{name}"
        r.ident(name, key)
        r.keys(r.mapping(body, key), key, ("text", "set"), ("mode",))
        setting = r.mapping(body["set"], f"{key}.set")
        if not setting:
            raise r.fail(
                f"{key}.set", "sets no condition.", "write e.g. 'set: {deal_signed: false}'."
            )
        values: dict[str, bool] = {}
        for condition, value in setting.items():
            where = f"{key}.set.{condition}"
            if condition not in binary:
                raise r.fail(
                    where,
                    f"{short(condition)} is not a binary condition of this model.",
                    "set one of: " + ", ".join(binary) + ".",
                )
            values[condition] = r.boolean(value, where)
        out[name] = Scenario(
            name,
            r.text(body["text"], f"{key}.text"),
            values,
            r.choice(body.get("mode", "do"), f"{key}.mode", SCENARIO_MODES),
        )
    return out
