"""The ``ketamine-intake`` questionnaire, version 1: every item, domain and LOINC code.

Top-level items are groups, one per JSON object of a submission: ``respondent`` and the
sections of ``answers``. Paths are the native dotted paths (``phq9.q1``, ``asq.q5``).

Item wording and codes, by source (shared clinical reference §3 and §4):

- PHQ-9, GAD-7: texts, LOINC item and answer codes exactly as the LOINC-coded FHIR forms of
  uwcirg/asbi-screening-app (``src/fhir/1_Questionnaire-{PHQ9,GAD7}.json`` @ 9f3c780).
  Pfizer copyright; reproduction needs no permission (phqscreeners.com).
- ASQ: NIMH Ask Suicide-Screening Questions toolkit, a free US Government work.
- PCL-5: Weathers et al. 2013, National Center for PTSD; US Government work, public domain.
- AUDIT-C: Bush et al. 1998; short texts used under the SAMHSA-HRSA statement that the
  AUDIT-C is public domain, which conflicts with the WHO AUDIT terms (not for commercial
  use): legal sign-off outstanding (unverified). LOINC 68518-0 is a secondary source.
- C-SSRS, MDQ, DAST-10: wording licensed (C-SSRS electronic use via Clario; DAST-10
  non-commercial only; MDQ terms not found), so their items are numbered only (text None).
- Respondent, treatment history, medical history, medications, reproductive and vitals
  items are this service's own plain-language questions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from rules.questionnaire_model import EnableWhen, Item, ItemKind, Option, Questionnaire

__all__ = ["CURRENT_VERSION", "KETAMINE_INTAKE", "QUESTIONNAIRES", "get"]

Labels = tuple[tuple[str, str], ...]


def _labelled(*pairs: tuple[str, str]) -> tuple[Option, ...]:
    """Options with string values and no score, from ``(value, display)`` pairs."""
    return tuple(Option(value, display) for value, display in pairs)


def _scale(displays: tuple[str, ...], loinc: tuple[str, ...] = ()) -> tuple[Option, ...]:
    """Options valued 0, 1, 2 … whose ordinal (score) equals the value."""
    codes: tuple[str | None, ...] = loinc or (None,) * len(displays)
    return tuple(
        Option(value, display, ordinal=value, loinc=code)
        for value, (display, code) in enumerate(zip(displays, codes, strict=True))
    )


def _choice(path: str, text: str | None, options: tuple[Option, ...], *,
            required: bool = False, loinc: str | None = None) -> Item:
    return Item(path, ItemKind.CHOICE, text, required=required, options=options, loinc=loinc)


def _group(path: str, text: str, children: tuple[Item, ...], *, required: bool = False,
           loinc: str | None = None, total_loinc: str | None = None) -> Item:
    return Item(path, ItemKind.GROUP, text, required=required, children=children, loinc=loinc,
                total_loinc=total_loinc)


def _numbered(section: str, count: int, options: tuple[Option, ...]) -> tuple[Item, ...]:
    """Items ``q1``…``q<count>`` without text (licensed wording)."""
    return tuple(_choice(f"{section}.q{n}", None, options) for n in range(1, count + 1))


def _texts(section: str, texts: tuple[str, ...], options: tuple[Option, ...]) -> tuple[Item, ...]:
    """Items ``q1``…``qN`` with the given texts, all sharing ``options``."""
    return tuple(_choice(f"{section}.q{n}", t, options) for n, t in enumerate(texts, start=1))


def _keyed(section: str, questions: Labels, options: tuple[Option, ...]) -> tuple[Item, ...]:
    """Items named by key, from ``(key, text)`` pairs, all sharing ``options``."""
    return tuple(_choice(f"{section}.{key}", text, options) for key, text in questions)


_YES_NO = _labelled(("yes", "Yes"), ("no", "No"))
_YES_NO_UNSURE = _YES_NO + _labelled(("unsure", "Unsure"))
_YES_NO_UNSURE_NA = _YES_NO_UNSURE + _labelled(("not_applicable", "Not applicable"))

_FREQUENCY = ("Not at all", "Several days", "More than half the days", "Nearly every day")
_FREQUENCY_LOINC = ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9")
_PHQ_FREQUENCY = _scale(_FREQUENCY, _FREQUENCY_LOINC)

# (LOINC item code, text) in questionnaire order; texts as the LOINC form spells them.
_PHQ9_ITEMS = (
    ("44250-9", "Little interest or pleasure in doing things"),
    ("44255-8", "Feeling down, depressed, or hopeless"),
    ("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
    ("44254-1", "Feeling tired or having little energy"),
    ("44251-7", "Poor appetite or overeating"),
    ("44258-2", "Feeling bad about yourself-or that you are a failure or have let yourself "
                "or your family down"),
    ("44252-5", "Trouble concentrating on things, such as reading the newspaper or watching "
                "television"),
    ("44253-3", "Moving or speaking so slowly that other people could have noticed. Or the "
                "opposite-being so fidgety or restless that you have been moving around a lot "
                "more than usual"),
    ("44260-8", "Thoughts that you would be better off dead, or of hurting yourself in some way"),
)
# LOINC's answer codes for the difficulty item are not in numeric order.
_PHQ9_DIFFICULTY = _scale(
    ("Not difficult at all", "Somewhat difficult", "Very difficult", "Extremely difficult"),
    ("LA6572-7", "LA6573-5", "LA6575-0", "LA6574-3"),
)

_GAD7_STEM = "Over the past 2 weeks, how often have you been bothered by "
_GAD7_ITEMS = (
    ("69725-0", "feeling nervous, anxious or on edge?"),
    ("68509-9", "not being able to stop or control worrying?"),
    ("69733-4", "worrying too much about different things?"),
    ("69734-2", "trouble relaxing?"),
    ("69735-9", "being so restless that it is hard to sit still?"),
    ("69689-8", "becoming easily annoyed or irritable?"),
    ("69736-7", "feeling afraid as if something awful might happen?"),
)
# LOINC 68509-9 carries an answer list whose value 2 is LA18938-3 "More days than not" (the
# LOINC GAD-7 form keeps it) where the paper GAD-7 and every other item say LA6570-1 "More
# than half the days". Both score 2: scoring reads the ordinal, never the answer code.
# Forms that code it LA6570-1 are read as 2 too (``loinc_aliases``).
_GAD7_WORRY_CONTROL = tuple(
    replace(option, loinc_aliases=(_FREQUENCY_LOINC[2],)) if option.value == 2 else option
    for option in _scale(
        (_FREQUENCY[0], _FREQUENCY[1], "More days than not", _FREQUENCY[3]),
        (_FREQUENCY_LOINC[0], _FREQUENCY_LOINC[1], "LA18938-3", _FREQUENCY_LOINC[3]),
    )
)

_ASQ_TEXTS = (
    "In the past few weeks, have you wished you were dead?",
    "In the past few weeks, have you felt that you or your family would be better off if you "
    "were dead?",
    "In the past week, have you been having thoughts about killing yourself?",
    "Have you ever tried to kill yourself?",
)
_ASQ_ACUITY = "Are you having thoughts of killing yourself right now?"

_PCL5_SCALE = _scale(("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely"))
_PCL5_TEXTS = (
    "Repeated, disturbing, and unwanted memories of the stressful experience?",
    "Repeated, disturbing dreams of the stressful experience?",
    "Suddenly feeling or acting as if the stressful experience were actually happening again "
    "(as if you were actually back there reliving it)?",
    "Feeling very upset when something reminded you of the stressful experience?",
    "Having strong physical reactions when something reminded you of the stressful experience "
    "(for example, heart pounding, trouble breathing, sweating)?",
    "Avoiding memories, thoughts, or feelings related to the stressful experience?",
    "Avoiding external reminders of the stressful experience (for example, people, places, "
    "conversations, activities, objects, or situations)?",
    "Trouble remembering important parts of the stressful experience?",
    "Having strong negative beliefs about yourself, other people, or the world (for example, "
    "having thoughts such as: I am bad, there is something seriously wrong with me, no one can "
    "be trusted, the world is completely dangerous)?",
    "Blaming yourself or someone else for the stressful experience or what happened after it?",
    "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
    "Loss of interest in activities that you used to enjoy?",
    "Feeling distant or cut off from other people?",
    "Trouble experiencing positive feelings (for example, being unable to feel happiness or "
    "have loving feelings for people close to you)?",
    "Irritable behavior, angry outbursts, or acting aggressively?",
    "Taking too many risks or doing things that could cause you harm?",
    'Being "superalert" or watchful or on guard?',
    "Feeling jumpy or easily startled?",
    "Having difficulty concentrating?",
    "Trouble falling or staying asleep?",
)

# (LOINC item code, text, answer displays for 0..4): Bush et al. 1998 via clinical ref §3.7,
# whose abbreviated displays ("2–4×/month", "≥10") are spelled out here.
_AUDIT_C_ITEMS = (
    ("68518-0", "How often do you have a drink containing alcohol?",
     ("Never", "Monthly or less", "2 to 4 times a month", "2 to 3 times a week",
      "4 or more times a week")),
    ("68519-8", "How many standard drinks containing alcohol do you have on a typical day when "
                "you are drinking?",
     ("1 or 2", "3 or 4", "5 or 6", "7 to 9", "10 or more")),
    ("68520-6", "How often do you have six or more drinks on one occasion?",
     ("Never", "Less than monthly", "Monthly", "Weekly", "Daily or almost daily")),
)

_MEDICAL_HISTORY: Labels = (
    ("aneurysm_or_avm", "Have you ever been told you have an aneurysm (a bulging blood vessel) "
                        "or an arteriovenous malformation (AVM)?"),
    ("intracerebral_hemorrhage", "Have you ever had bleeding inside the brain?"),
    ("ketamine_hypersensitivity", "Have you ever had an allergic or other serious reaction to "
                                  "ketamine or esketamine?"),
    ("uncontrolled_hypertension", "Do you have high blood pressure that is not well controlled?"),
    ("recent_cardiovascular_event", "In the past 6 weeks, have you had a heart attack, a stroke "
                                    "or a mini-stroke (TIA)?"),
    ("heart_failure_or_unstable_angina", "Do you have heart failure, or chest pain (angina) "
                                         "that is new, getting worse or comes on at rest?"),
    ("psychosis", "Have you ever had psychosis, such as hearing or seeing things others could "
                  "not, or been told you have a psychotic disorder such as schizophrenia?"),
    ("mania_or_hypomania", "Have you ever had a period of mania or hypomania (days of unusually "
                           "high mood or energy with little need for sleep)?"),
    ("substance_use_disorder", "Do you have, or have you recently had, a problem with alcohol "
                               "or drug use?"),
    ("ketamine_misuse", "Have you ever used ketamine other than as prescribed, or recreationally?"),
    ("elevated_intracranial_pressure", "Have you been told you have raised pressure inside the "
                                       "skull, for example from a brain tumour or head injury?"),
    ("seizure_disorder", "Do you have epilepsy or another condition that causes seizures?"),
    ("glaucoma", "Have you been told you have glaucoma or raised pressure in the eye?"),
    ("untreated_hyperthyroidism", "Do you have an overactive thyroid that is not being treated?"),
    ("severe_liver_disease", "Have you been told you have severe liver disease, such as "
                             "cirrhosis?"),
    ("bladder_or_interstitial_cystitis", "Do you have interstitial cystitis or another lasting "
                                         "bladder problem?"),
    ("dementia_or_cognitive_impairment", "Have you been diagnosed with dementia or another "
                                         "condition that affects memory or thinking?"),
)

_MEDICATIONS: Labels = (
    ("benzodiazepine", "Do you take a benzodiazepine (for example lorazepam, diazepam, "
                       "alprazolam or clonazepam)?"),
    ("maoi", "Do you take an MAO inhibitor antidepressant (for example phenelzine, "
             "tranylcypromine or selegiline)?"),
    ("stimulant", "Do you take a stimulant medicine (for example methylphenidate, amphetamine "
                  "or modafinil)?"),
    ("opioid", "Do you take an opioid medicine (for example oxycodone, morphine, tramadol, "
               "methadone or buprenorphine)?"),
    ("lamotrigine", "Do you take lamotrigine?"),
)

_TRIALS = "treatment_history.antidepressant_trials"


def _respondent() -> Item:
    def text(name: str, label: str, max_length: int) -> Item:
        return Item(f"respondent.{name}", ItemKind.STRING, label, max_length=max_length)

    sex = _labelled(("female", "Female"), ("male", "Male"), ("intersex", "Intersex"),
                    ("unknown", "Unknown or prefer not to say"))
    return _group("respondent", "About you", (
        text("given_name", "Given name", 100),
        text("family_name", "Family name", 100),
        Item("respondent.date_of_birth", ItemKind.DATE, "Date of birth", required=True,
             loinc="21112-8"),
        _choice("respondent.sex_at_birth", "Sex assigned at birth", sex),
        text("email", "Email address", 254),
        text("phone", "Phone number", 40),
        text("external_id", "Identifier in the clinic's own records", 100),
    ), required=True)


def _phq9() -> Item:
    items = tuple(
        _choice(f"phq9.q{n}", text, _PHQ_FREQUENCY, required=True, loinc=code)
        for n, (code, text) in enumerate(_PHQ9_ITEMS, start=1)
    )
    difficulty = _choice(
        "phq9.difficulty",
        "How difficult have these problems made it for you to do your work, take care of "
        "things at home, or get along with other people?",
        _PHQ9_DIFFICULTY, loinc="69722-7",
    )
    return _group("phq9", "Over the last 2 weeks, how often have you been bothered by any of "
                  "the following problems?", (*items, difficulty), required=True,
                  loinc="44249-1", total_loinc="44261-6")


def _gad7() -> Item:
    items = tuple(
        _choice(f"gad7.q{n}", _GAD7_STEM + text,
                _GAD7_WORRY_CONTROL if code == "68509-9" else _PHQ_FREQUENCY, loinc=code)
        for n, (code, text) in enumerate(_GAD7_ITEMS, start=1)
    )
    return _group("gad7", "Anxiety (GAD-7)", items, loinc="69737-5", total_loinc="70274-6")


def _asq() -> Item:
    screen = tuple(_choice(f"asq.q{n}", t, _YES_NO, required=True)
                   for n, t in enumerate(_ASQ_TEXTS, start=1))
    # Required once the screen is positive (a yes to any of q1-q4). A yes given before that
    # is still accepted: it is an acute positive whatever q1-q4 say (NIMH ASQ pathway).
    acuity = Item("asq.q5", ItemKind.CHOICE, _ASQ_ACUITY, required=True, options=_YES_NO,
                  enable_when=tuple(EnableWhen(i.path, "yes") for i in screen),
                  enable_behavior="any", accept_when_disabled=("yes",))
    return _group("asq", "Suicide risk screening (ASQ)", (*screen, acuity), required=True)


def _cssrs() -> Item:
    """The screener's skip pattern as enable-when: q3-q5 only after q2 yes, the recency only
    after q6 yes (Columbia Protocol screener). Every item is a suicide-risk answer, so any
    answer a form sends outside the pattern is accepted all the same."""
    after_q2 = (EnableWhen("cssrs.q2", "yes"),)
    items = tuple(
        replace(item, enable_when=after_q2) if item.name in ("q3", "q4", "q5") else item
        for item in _numbered("cssrs", 6, _YES_NO)
    )
    recency = Item("cssrs.q6_recent", ItemKind.CHOICE, options=_YES_NO,
                   enable_when=(EnableWhen("cssrs.q6", "yes"),))
    return _group("cssrs", "Columbia suicide severity screener (C-SSRS, recent), numbered "
                  "items", tuple(replace(item, accept_when_disabled=item.option_values())
                                 for item in (*items, recency)))


def _audit_c() -> Item:
    items = tuple(
        _choice(f"audit_c.q{n}", text, _scale(displays), loinc=code)
        for n, (code, text, displays) in enumerate(_AUDIT_C_ITEMS, start=1)
    )
    return _group("audit_c", "Alcohol use (AUDIT-C)", items, loinc="72109-2")


def _mdq() -> Item:
    problem = _labelled(("none", "No problem"), ("minor", "Minor problem"),
                        ("moderate", "Moderate problem"), ("serious", "Serious problem"))
    return _group("mdq", "Mood Disorder Questionnaire (MDQ), numbered items", (
        Item("mdq.q1", ItemKind.CHOICE_LIST, options=_YES_NO, length=13),
        _choice("mdq.q2", None, _YES_NO),
        _choice("mdq.q3", None, problem),
    ))


def _treatment_history() -> Item:
    response = _labelled(("none", "No improvement"), ("partial", "Some improvement"),
                         ("full", "Full improvement"),
                         ("stopped_side_effects", "Stopped because of side effects"))
    trial = (
        Item(f"{_TRIALS}.medication", ItemKind.STRING, "Name of the medicine", required=True,
             max_length=100),
        Item(f"{_TRIALS}.weeks", ItemKind.INTEGER, "For how many weeks did you take it?",
             minimum=0, maximum=520),
        _choice(f"{_TRIALS}.adequate_dose", "Did you reach the full dose your prescriber "
                "intended?", _YES_NO_UNSURE),
        _choice(f"{_TRIALS}.taken_as_prescribed", "Did you take it as prescribed?",
                _YES_NO_UNSURE),
        _choice(f"{_TRIALS}.response", "How did it work for you?", response),
    )
    trials = Item(_TRIALS, ItemKind.GROUP, "Antidepressants you have tried for depression, one "
                  "entry per medicine", required=True, repeats=True, children=trial)
    return _group("treatment_history", "Treatment history", (trials,), required=True)


def _vitals() -> Item:
    return _group("vitals", "Blood pressure", (
        Item("vitals.systolic_bp", ItemKind.INTEGER, "Systolic (upper) blood pressure, mmHg",
             minimum=50, maximum=300),
        Item("vitals.diastolic_bp", ItemKind.INTEGER, "Diastolic (lower) blood pressure, mmHg",
             minimum=20, maximum=200),
    ))


KETAMINE_INTAKE = Questionnaire(
    id="ketamine-intake",
    version="1",
    title="Intake screening for IV ketamine treatment of depression",
    items=(
        _respondent(),
        _phq9(),
        _asq(),
        _gad7(),
        _cssrs(),
        _mdq(),
        _group("pcl5", "In the past month, how much were you bothered by:",
               _texts("pcl5", _PCL5_TEXTS, _PCL5_SCALE)),
        _audit_c(),
        _group("dast10", "Drug use in the past 12 months (DAST-10), numbered items",
               _numbered("dast10", 10, _YES_NO)),
        _treatment_history(),
        _group("medical_history", "Medical history",
               _keyed("medical_history", _MEDICAL_HISTORY, _YES_NO_UNSURE)),
        _group("medications", "Medicines you take now",
               _keyed("medications", _MEDICATIONS, _YES_NO_UNSURE)),
        _group("reproductive", "Pregnancy and breastfeeding", _keyed("reproductive", (
            ("pregnant", "Are you pregnant, or could you be pregnant?"),
            ("breastfeeding", "Are you breastfeeding?"),
        ), _YES_NO_UNSURE_NA)),
        _vitals(),
    ),
)

QUESTIONNAIRES: Mapping[str, Mapping[str, Questionnaire]] = MappingProxyType({
    KETAMINE_INTAKE.id: MappingProxyType({KETAMINE_INTAKE.version: KETAMINE_INTAKE}),
})
CURRENT_VERSION: Mapping[str, str] = MappingProxyType({"ketamine-intake": "1"})


def get(id: str, version: str | None = None) -> Questionnaire:
    """The questionnaire ``id`` at ``version``, or at its current version when None.

    Raises KeyError for an unknown id or version.
    """
    versions = QUESTIONNAIRES[id]
    return versions[CURRENT_VERSION[id] if version is None else version]
