"""Review priority: an ordered table, first matching rule wins, every reason listed
(shared spec §6 Routing), and what the intake form must show at once (spec §5).

Routing never decides eligibility: a ``routine`` submission, including one whose criteria
are not met, still goes to a clinician who closes the loop with the person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rules.types import ClinicSettings, Criterion, Flag, FlagKind, Priority, Routing, Safety, Status


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """Flags that give a submission ``priority``: matched by flag id or by flag kind."""

    priority: Priority
    flag_ids: frozenset[str] = frozenset()
    flag_kinds: frozenset[FlagKind] = frozenset()

    def matches(self, flag: Flag) -> bool:
        """Whether this rule applies to ``flag``."""
        return flag.id in self.flag_ids or flag.kind in self.flag_kinds


ROUTING_RULES: tuple[RoutingRule, ...] = (
    # ASQ q5 yes; C-SSRS q4/q5 yes; C-SSRS q6 yes within 3 months.
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


def route(flags: Iterable[Flag], criteria: Iterable[Criterion]) -> Routing:
    """Priority of the first rule any flag matches (else routine).

    Reasons list every matching flag as ``flag:<id>`` in rule order, then
    ``criterion:<id>:<status>`` for each criterion not met or unknown.
    """
    flags = tuple(flags)
    priority = Priority.ROUTINE
    reasons: list[str] = []
    for rule in ROUTING_RULES:
        matched = [f"flag:{flag.id}" for flag in flags if rule.matches(flag)]
        if matched and priority is Priority.ROUTINE:
            priority = rule.priority
        reasons.extend(matched)
    reasons.extend(
        f"criterion:{criterion.id}:{criterion.status.value}"
        for criterion in criteria
        if criterion.status is not Status.MET
    )
    return Routing(priority, tuple(reasons))


def safety(flags: Iterable[Flag], settings: ClinicSettings) -> Safety:
    """Crisis resources with the clinic's message when any suicide-risk flag is raised."""
    if any(flag.id in SUICIDE_FLAG_IDS for flag in flags):
        return Safety(True, settings.effective_crisis_message)
    return Safety(False, None)
