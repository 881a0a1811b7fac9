"""Contraindication and caution flags: blood pressure, medical history, medications,
pregnancy and breastfeeding, and age (shared spec §6 flag table; clinical.md §1).

A history, medication or reproductive item raises its flag when answered ``yes`` or
``unsure``: an uncertain answer to a safety question needs a clinician as much as a yes.
``no``, ``not_applicable`` and absent items raise nothing; absence is never read as no
(the clinician sees what is missing in ``Evaluation.missing`` and the answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rules.types import Flag, FlagKind

if TYPE_CHECKING:
    from rules.ruleset import Ruleset

BP_SEVERE_SOURCE = (
    "Swiss ketamine product information (oddb reg. 67199): contraindicated with poorly "
    "controlled hypertension, resting BP > 180/100 mmHg; ketamine hydrochloride injection "
    "US PI: contraindicated where a significant rise in blood pressure is a serious hazard"
)
BP_ELEVATED_SOURCE = (
    "SPRAVATO (esketamine) US PI guidance as summarised by drug references: if baseline BP "
    "is elevated (> 140 mmHg systolic or > 90 mmHg diastolic) weigh the short-term rise "
    "against benefit and consider delaying [secondary source]"
)
OLDER_ADULT_SOURCE = (
    "SPRAVATO (esketamine) US PI dosing: lower starting dose for patients aged 65 and over "
    "[unverified]"
)

_ABSOLUTE = FlagKind.ABSOLUTE_CONTRAINDICATION
_RELATIVE = FlagKind.RELATIVE_CONTRAINDICATION
_CAUTION = FlagKind.CAUTION
_SAFETY = FlagKind.SAFETY


@dataclass(frozen=True, slots=True)
class AnswerRule:
    """A flag raised by a ``yes`` or ``unsure`` answer to one item of one section."""

    section: str
    id: str
    kind: FlagKind
    detail: str
    source: str

    def flag(self, answer: str) -> Flag:
        """The flag this rule raises for ``answer``."""
        return Flag(self.id, self.kind, answer, self.detail, self.source)


ANSWER_RULES: tuple[AnswerRule, ...] = (
    AnswerRule("medical_history", "aneurysm_or_avm", _ABSOLUTE,
               "Aneurysmal vascular disease or arteriovenous malformation.",
               "SPRAVATO (esketamine) US PI §4 Contraindications: aneurysmal vascular disease "
               "(aorta, intracranial or peripheral arteries) or arteriovenous malformation"),
    AnswerRule("medical_history", "intracerebral_hemorrhage", _ABSOLUTE,
               "History of intracerebral hemorrhage.",
               "SPRAVATO (esketamine) US PI §4 Contraindications: history of intracerebral "
               "hemorrhage"),
    AnswerRule("medical_history", "ketamine_hypersensitivity", _ABSOLUTE,
               "Hypersensitivity or prior serious reaction to ketamine or esketamine.",
               "SPRAVATO (esketamine) US PI §4 and ketamine hydrochloride injection US PI "
               "Contraindications: hypersensitivity to esketamine, ketamine or excipients"),
    AnswerRule("medical_history", "uncontrolled_hypertension", _RELATIVE,
               "Uncontrolled hypertension: a blood-pressure rise may be hazardous.",
               "Ketamine hydrochloride injection US PI: significant BP rise a serious hazard; "
               "Swiss ketamine product information: poorly controlled hypertension; trial "
               "exclusions PMC10812090"),
    AnswerRule("medical_history", "recent_cardiovascular_event", _RELATIVE,
               "Recent cardiovascular or cerebrovascular event.",
               "Ontario Ketamine & Infusion Centre protocol (NCT07099235): major cardiovascular "
               "event within 6 weeks; trial exclusions PMC10812090; Swiss ketamine product "
               "information: prior cerebrovascular event"),
    AnswerRule("medical_history", "heart_failure_or_unstable_angina", _RELATIVE,
               "Heart failure or unstable angina.",
               "SPRAVATO (esketamine) US PI warnings: assess benefit and risk in cardiovascular "
               "disease [secondary source]; trial exclusions PMC10812090"),
    AnswerRule("medical_history", "psychosis", _RELATIVE,
               "Psychosis, current or past: assess carefully; most clinics exclude.",
               "SPRAVATO (esketamine) US PI §5.2; Toronto Ketamine Clinic and CRTCE exclusion "
               "criteria; Oxford Health NHS ketamine service"),
    AnswerRule("medical_history", "mania_or_hypomania", _RELATIVE,
               "Mania or hypomania, current or past.",
               "Oxford Health NHS ketamine service (history of mania); Mindspace eligibility "
               "FAQ"),
    AnswerRule("medical_history", "substance_use_disorder", _RELATIVE,
               "Substance use disorder: assess abuse and misuse risk.",
               "SPRAVATO (esketamine) US PI §5.3 and §9.2 abuse and misuse; CRTCE, Toronto "
               "Ketamine Clinic and OKIC exclusion criteria"),
    AnswerRule("medical_history", "ketamine_misuse", _RELATIVE,
               "Prior ketamine misuse.",
               "SPRAVATO (esketamine) US PI §9.2 abuse potential; Ontario Ketamine & Infusion "
               "Centre excludes prior ketamine use"),
    AnswerRule("medical_history", "elevated_intracranial_pressure", _RELATIVE,
               "Raised intracranial pressure: a further rise may be hazardous.",
               "SPRAVATO (esketamine) US PI warnings: not where a rise in intracranial pressure "
               "is a serious risk [secondary source]; Oxford Health NHS and OKIC exclusions"),
    AnswerRule("medical_history", "seizure_disorder", _RELATIVE,
               "Seizure disorder or recent epilepsy.",
               "Oxford Health NHS ketamine service (recent epilepsy); Mindspace eligibility "
               "FAQ"),
    AnswerRule("medical_history", "glaucoma", _RELATIVE,
               "Glaucoma or raised intraocular pressure.",
               "Ketamine hydrochloride injection US PI adverse reactions: raised intraocular "
               "pressure; Oxford Health NHS ketamine service (glaucoma)"),
    AnswerRule("medical_history", "untreated_hyperthyroidism", _RELATIVE,
               "Untreated or inadequately treated hyperthyroidism.",
               "Swiss ketamine product information (oddb reg. 67199): untreated or "
               "inadequately treated hyperthyroidism"),
    AnswerRule("medical_history", "severe_liver_disease", _RELATIVE,
               "Severe liver disease: esketamine not recommended in Child-Pugh C.",
               "SPRAVATO (esketamine) US PI §8.6 hepatic impairment; ketamine hydrochloride "
               "injection US PI warnings: drug-induced liver injury"),
    AnswerRule("medical_history", "bladder_or_interstitial_cystitis", _RELATIVE,
               "Bladder disease or interstitial cystitis: monitor urinary symptoms.",
               "Ketamine hydrochloride injection US PI adverse reactions: cystitis and lower "
               "urinary tract symptoms; SPRAVATO warnings [secondary source]"),
    AnswerRule("medical_history", "dementia_or_cognitive_impairment", _RELATIVE,
               "Dementia or cognitive impairment.",
               "Toronto Ketamine Clinic, CRTCE and OKIC exclusion criteria (neurocognitive "
               "disorder)"),
    AnswerRule("medications", "benzodiazepine", _CAUTION,
               "Benzodiazepine: added sedation; high doses linked to weaker response.",
               "SPRAVATO (esketamine) US PI §7 CNS depressants [secondary source]; Frontiers in "
               "Psychiatry 2020 (> 8 mg diazepam-equivalent/day and non-response)"),
    AnswerRule("medications", "maoi", _CAUTION,
               "MAOI: blood pressure may rise; monitor closely.",
               "SPRAVATO (esketamine) US PI §7 drug interactions: MAOIs"),
    AnswerRule("medications", "stimulant", _CAUTION,
               "Psychostimulant: blood pressure may rise; monitor closely.",
               "SPRAVATO (esketamine) US PI §7 drug interactions: psychostimulants"),
    AnswerRule("medications", "opioid", _CAUTION,
               "Opioid: added sedation and respiratory depression.",
               "SPRAVATO (esketamine) US PI §7 CNS depressants [secondary source]; SPRAVATO "
               "boxed warning: respiratory depression"),
    AnswerRule("medications", "lamotrigine", _CAUTION,
               "Lamotrigine: may reduce ketamine adverse effects; effect on response unclear.",
               "Andrade 2017, J Clin Psychiatry, ketamine drug interactions; later cohort "
               "studies mixed"),
    AnswerRule("reproductive", "pregnant", _RELATIVE,
               "Pregnancy (or possible pregnancy): may cause fetal harm; not recommended.",
               "SPRAVATO (esketamine) US PI §8.1 and §17 and Medication Guide; Oxford Health "
               "NHS ketamine service"),
    AnswerRule("reproductive", "breastfeeding", _RELATIVE,
               "Breastfeeding: not recommended during treatment.",
               "SPRAVATO (esketamine) US PI §8.2 lactation; Oxford Health NHS ketamine service"),
)



def _prebuilt(section: str) -> tuple[tuple[str, Flag, Flag], ...]:
    """``(item, flag if yes, flag if unsure)`` for each rule of ``section``, in table order.

    A flag raised by an answered item depends only on the rule and the answer, and both
    are immutable, so the two possible flags are built once at import.
    """
    return tuple(
        (rule.id, rule.flag("yes"), rule.flag("unsure"))
        for rule in ANSWER_RULES
        if rule.section == section
    )


_HISTORY_FLAGS = _prebuilt("medical_history")
_MEDICATION_FLAGS = _prebuilt("medications")
_REPRODUCTIVE_FLAGS = _prebuilt("reproductive")


def _answer_flags(
    answers: Mapping[str, Any], section: str, prebuilt: tuple[tuple[str, Flag, Flag], ...]
) -> tuple[Flag, ...]:
    answered = answers.get(section)
    if not answered:
        return ()
    flags = []
    for item, if_yes, if_unsure in prebuilt:
        value = answered.get(item)
        if value == "yes":
            flags.append(if_yes)
        elif value == "unsure":
            flags.append(if_unsure)
    return tuple(flags)


def history_flags(answers: Mapping[str, Any]) -> tuple[Flag, ...]:
    """One flag per ``medical_history`` item answered yes or unsure, in table order."""
    return _answer_flags(answers, "medical_history", _HISTORY_FLAGS)


def medication_flags(answers: Mapping[str, Any]) -> tuple[Flag, ...]:
    """One caution per ``medications`` item answered yes or unsure, in table order."""
    return _answer_flags(answers, "medications", _MEDICATION_FLAGS)


def reproductive_flags(answers: Mapping[str, Any]) -> tuple[Flag, ...]:
    """``pregnant`` / ``breastfeeding`` when answered yes or unsure (not_applicable: none)."""
    return _answer_flags(answers, "reproductive", _REPRODUCTIVE_FLAGS)


def blood_pressure_flags(answers: Mapping[str, Any], ruleset: Ruleset) -> tuple[Flag, ...]:
    """``blood_pressure_severe`` above ``bp_severe`` (180/100), else
    ``blood_pressure_elevated`` at or above ``bp_elevated`` (140/90); either reading alone
    is enough."""
    vitals = answers.get("vitals") or {}
    systolic = vitals.get("systolic_bp")
    diastolic = vitals.get("diastolic_bp")
    readings = {k: v for k, v in (("systolic_bp", systolic), ("diastolic_bp", diastolic))
                if v is not None}
    severe, elevated = ruleset.bp_severe, ruleset.bp_elevated
    if (systolic is not None and systolic > severe.systolic) or (
        diastolic is not None and diastolic > severe.diastolic
    ):
        return (Flag("blood_pressure_severe", _SAFETY, readings,
                     f"Blood pressure above {severe.systolic}/{severe.diastolic} mmHg: review "
                     "before any treatment.",
                     BP_SEVERE_SOURCE),)
    if (systolic is not None and systolic >= elevated.systolic) or (
        diastolic is not None and diastolic >= elevated.diastolic
    ):
        return (Flag("blood_pressure_elevated", _CAUTION, readings,
                     f"Blood pressure at or above {elevated.systolic}/{elevated.diastolic} "
                     "mmHg: weigh the expected rise during treatment; consider delaying.",
                     BP_ELEVATED_SOURCE),)
    return ()


def age_flags(age_years: int | None, ruleset: Ruleset) -> tuple[Flag, ...]:
    """``older_adult`` at ``older_adult_age`` (65) or over; nothing when the age is
    unknown."""
    threshold = ruleset.older_adult_age
    if age_years is None or age_years < threshold:
        return ()
    return (Flag("older_adult", _CAUTION, {"age_years": age_years},
                 f"Aged {threshold} or over: esketamine labelling gives older adults a lower "
                 "starting dose (unverified).",
                 OLDER_ADULT_SOURCE),)
