"""Review priority: an ordered table, first matching rule wins, every reason listed
(shared spec §6 Routing), and what the intake form must show at once (spec §5).

Routing never decides eligibility: a ``routine`` submission, including one whose criteria
are not met, still goes to a clinician who closes the loop with the person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING

from rules.types import Criterion, Flag, FlagKind, Priority, Routing, Safety, Status

if TYPE_CHECKING:
    from rules.ruleset import Ruleset


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """Flags that give a submission ``priority``: matched by flag id or by flag kind."""

    priority: Priority
    flag_ids: frozenset[str] = frozenset()
    flag_kinds: frozenset[FlagKind] = frozenset()


ROUTING_RULES: tuple[RoutingRule, ...] = (
    # ASQ q5 yes; C-SSRS q4/q5 yes; C-SSRS q6 yes within 3 months or recency unknown.
    RoutingRule(Priority.CRITICAL, flag_ids=frozenset({"suicide_risk_acute"})),
    # Non-acute suicide-risk signals; blood pressure above 180/100.
    RoutingRule(Priority.URGENT, flag_ids=frozenset({"suicide_risk", "blood_pressure_severe"})),
    # Any absolute or relative contraindication (incl. pregnancy, breastfeeding) yes/unsure.
    RoutingRule(
        Priority.HIGH,
        flag_kinds=frozenset(
            {FlagKind.ABSOLUTE_CONTRAINDICATION, FlagKind.RELATIVE_CONTRAINDICATION}
        ),
    ),
)

SUICIDE_FLAG_IDS = frozenset({"suicide_risk", "suicide_risk_acute"})
_NO_CRISIS_RESOURCES = Safety(False, None)
_ROUTINE = Priority.ROUTINE
_MET = Status.MET
_NO_RULE = len(ROUTING_RULES)


def _first_rule_by(attribute: str) -> Mapping[object, int]:
    """Position of the first rule naming each flag id (or kind): the table, indexed once."""
    index: dict[object, int] = {}
    for position, rule in enumerate(ROUTING_RULES):
        for value in getattr(rule, attribute):
            index.setdefault(value, position)
    return MappingProxyType(index)


_RULE_BY_ID = _first_rule_by("flag_ids")
_RULE_BY_KIND = _first_rule_by("flag_kinds")


def route(flags: Iterable[Flag], criteria: Iterable[Criterion]) -> Routing:
    """Priority of the first rule any flag matches (else routine).

    Reasons list every matching flag as ``flag:<id>`` in rule order. When no flag rule
    matches, the routine rule does, and its reasons are ``criterion:<id>:<status>`` for
    each criterion not met or unknown (the contract's §6 example: a ``high`` submission
    lists only its flags even with a criterion unknown).
    """
    matched = []
    for flag in flags:
        # The first rule that names the flag's id or its kind.
        position = _RULE_BY_ID.get(flag.id, _NO_RULE)
        by_kind = _RULE_BY_KIND.get(flag.kind, _NO_RULE)
        if by_kind < position:
            position = by_kind
        if position != _NO_RULE:
            matched.append((position, flag.id))
    matched.sort(key=itemgetter(0))  # stable: flags keep their order within a rule
    if matched:
        return Routing(
            ROUTING_RULES[matched[0][0]].priority, tuple("flag:" + i for _, i in matched)
        )
    reasons = []
    for criterion in criteria:
        if criterion.status is not _MET:
            # Status is a StrEnum: concatenation yields its plain value ("not_met").
            reasons.append("criterion:" + criterion.id + ":" + criterion.status)
    return Routing(_ROUTINE, tuple(reasons))


def safety(flags: Iterable[Flag], ruleset: Ruleset) -> Safety:
    """Crisis resources with the clinic's message when any suicide-risk flag is raised."""
    for flag in flags:
        if flag.id in SUICIDE_FLAG_IDS:
            return Safety(True, ruleset.crisis_message)
    return _NO_CRISIS_RESOURCES
