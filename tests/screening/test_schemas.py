"""Submission schemas generated from a questionnaire definition (shared spec §4, §8)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from marshmallow import ValidationError

from rules.questionnaire import KETAMINE_INTAKE
from rules.questionnaire_model import EnableWhen, Item, ItemKind, Option, Questionnaire
from screening.intake.schemas import MAX_REPEATS, Catalogue, default_catalogue, flatten_errors
from tests.spec_example import spec_example_body

YES_NO = (Option("yes", "Yes"), Option("no", "No"))
SCALE = tuple(Option(v, str(v), ordinal=v) for v in range(4))


def _small(version: str = "1", extra: tuple[Item, ...] = ()) -> Questionnaire:
    """A small questionnaire with one item of every kind, a repeating group and
    enable-when conditions of both behaviours."""
    return Questionnaire("small", version, "Small", items=(
        Item("respondent", ItemKind.GROUP, required=True, children=(
            Item("respondent.given_name", ItemKind.STRING, max_length=5),
            Item("respondent.date_of_birth", ItemKind.DATE, required=True),
            Item("respondent.sex_at_birth", ItemKind.CHOICE,
                 options=(Option("female", "F"), Option("male", "M"))),
        )),
        Item("scale", ItemKind.GROUP, required=True, children=(
            Item("scale.q1", ItemKind.CHOICE, required=True, options=SCALE),
            Item("scale.q2", ItemKind.CHOICE, required=True, options=SCALE),
        )),
        Item("screen", ItemKind.GROUP, children=(
            Item("screen.a", ItemKind.CHOICE, required=True, options=YES_NO),
            Item("screen.b", ItemKind.CHOICE, options=YES_NO),
            Item("screen.follow_up", ItemKind.CHOICE, required=True, options=YES_NO,
                 enable_when=(EnableWhen("screen.a", "yes"), EnableWhen("screen.b", "yes"))),
            Item("screen.both", ItemKind.STRING, enable_behavior="all",
                 enable_when=(EnableWhen("screen.a", "yes"), EnableWhen("screen.b", "yes"))),
        )),
        Item("pregnancy", ItemKind.GROUP, children=(
            Item("pregnancy.pregnant", ItemKind.CHOICE, options=YES_NO,
                 enable_when=(EnableWhen("respondent.sex_at_birth", "female"),)),
        )),
        Item("history", ItemKind.GROUP, required=True, children=(
            Item("history.trials", ItemKind.GROUP, required=True, repeats=True, children=(
                Item("history.trials.name", ItemKind.STRING, required=True, max_length=10),
                Item("history.trials.weeks", ItemKind.INTEGER, minimum=0, maximum=520),
                Item("history.trials.stopped", ItemKind.CHOICE, options=YES_NO),
                Item("history.trials.why", ItemKind.STRING, max_length=50,
                     enable_when=(EnableWhen("history.trials.stopped", "yes"),)),
            )),
        )),
        Item("mood", ItemKind.GROUP, children=(
            Item("mood.list", ItemKind.CHOICE_LIST, options=YES_NO, length=3),
        )),
        *extra,
    ))


def _valid() -> dict[str, Any]:
    return {
        "questionnaire": "small",
        "questionnaire_version": "1",
        "respondent": {"given_name": "Ada", "date_of_birth": "1990-04-12",
                       "sex_at_birth": "female"},
        "answers": {
            "scale": {"q1": 0, "q2": 3},
            "screen": {"a": "yes", "b": "no", "follow_up": "no"},
            "pregnancy": {"pregnant": "no"},
            "history": {"trials": [{"name": "a", "weeks": 6, "stopped": "yes", "why": "x"},
                                   {"name": "b"}]},
            "mood": {"list": ["yes", "no", "yes"]},
        },
    }


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue([_small()])


def _errors(catalogue: Catalogue, body: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        catalogue.load(body)
    return caught.value.messages  # type: ignore[return-value]


def test_valid_body_loads_to_the_same_native_json(catalogue: Catalogue) -> None:
    body = _valid()
    assert catalogue.load(copy.deepcopy(body)) == body


def test_missing_version_is_filled_with_the_current_one() -> None:
    catalogue = Catalogue([_small("1"), _small("2")])
    body = _valid()
    del body["questionnaire_version"]
    assert catalogue.load(body)["questionnaire_version"] == "2"
    assert Catalogue([_small("1"), _small("2")], {"small": "1"}).load(body)[
        "questionnaire_version"] == "1"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"questionnaire": "other"}, {"questionnaire": ["Unknown questionnaire."]}),
        ({"questionnaire": 1}, {"questionnaire": ["Not a valid string."]}),
        ({"questionnaire_version": "9"},
         {"questionnaire_version": ["Unknown questionnaire version."]}),
        ({"questionnaire_version": None}, {"questionnaire_version": ["Not a valid string."]}),
    ],
    ids=["unknown id", "id not a string", "unknown version", "null version"],
)
def test_questionnaire_reference_errors_name_the_field(
        catalogue: Catalogue, change: dict[str, Any], errors: dict[str, list[str]]) -> None:
    assert _errors(catalogue, {**_valid(), **change}) == errors


def test_body_must_be_an_object(catalogue: Catalogue) -> None:
    assert _errors(catalogue, [_valid()]) == {"_schema": ["Invalid input type."]}


def test_every_offending_path_is_reported_at_once(catalogue: Catalogue) -> None:
    body = _valid()
    body["extra"] = 1
    body["respondent"].update(given_name="Adalbert", nickname="x")
    del body["respondent"]["date_of_birth"]
    answers = body["answers"]
    answers["unknown_section"] = {}
    answers["scale"] = {"q1": True, "q2": "2", "q3": 0}
    answers["screen"] = {"a": "no", "b": "no", "follow_up": "yes"}
    answers["history"]["trials"] = [{"name": "a", "weeks": 6.0, "dose": 1}, {"weeks": 521}, 7]
    answers["mood"] = {"list": ["yes", "no"]}
    assert _errors(catalogue, body) == {
        "extra": ["Unknown field."],
        "respondent.given_name": ["Longer than maximum length 5."],
        "respondent.date_of_birth": ["Missing data for required field."],
        "respondent.nickname": ["Unknown field."],
        "answers.unknown_section": ["Unknown field."],
        "answers.scale.q1": ["Not a valid integer."],
        "answers.scale.q2": ["Not a valid integer."],
        "answers.scale.q3": ["Unknown field."],
        "answers.history.trials.0.weeks": ["Not a valid integer."],
        "answers.history.trials.0.dose": ["Unknown field."],
        "answers.history.trials.1.name": ["Missing data for required field."],
        "answers.history.trials.1.weeks": [
            "Must be greater than or equal to 0 and less than or equal to 520."],
        "answers.history.trials.2": ["Invalid input type."],
        "answers.mood.list": ["Length must be 3."],
        "answers.screen.follow_up": [
            'Must not be answered unless answers.screen.a is "yes" or answers.screen.b is "yes".'
        ],
    }


@pytest.mark.parametrize(
    "value",
    [True, False, "2", 2.0, 1.5, None, [2], {"v": 2}, 4, -1],
    ids=["true", "false", "numeric string", "integral float", "float", "null", "list",
         "object", "above the options", "below the options"],
)
def test_integer_choices_accept_only_their_integers(catalogue: Catalogue, value: Any) -> None:
    body = _valid()
    body["answers"]["scale"]["q1"] = value
    assert list(_errors(catalogue, body)) == ["answers.scale.q1"]


@pytest.mark.parametrize("value", ["Yes", "YES", " yes", 1, True, None, ""],
                         ids=["capitalised", "upper case", "padded", "int", "bool", "null",
                              "empty"])
def test_string_choices_accept_only_their_strings(catalogue: Catalogue, value: Any) -> None:
    body = _valid()
    body["answers"]["screen"]["a"] = value
    errors = _errors(catalogue, body)
    assert errors["answers.screen.a"]


@pytest.mark.parametrize(("weeks", "ok"), [(0, True), (520, True), (-1, False), (521, False),
                                           (True, False), ("6", False), (6.0, False)])
def test_integer_bounds_and_strict_type(catalogue: Catalogue, weeks: Any, ok: bool) -> None:
    body = _valid()
    body["answers"]["history"]["trials"][1]["weeks"] = weeks
    if ok:
        assert catalogue.load(body)["answers"]["history"]["trials"][1]["weeks"] == weeks
    else:
        assert list(_errors(catalogue, body)) == ["answers.history.trials.1.weeks"]


def _tomorrow() -> str:
    return (datetime.now(UTC).date() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1990-4-12", "Not a valid date; expected YYYY-MM-DD."),
        ("19900412", "Not a valid date; expected YYYY-MM-DD."),
        ("1990-W15-4", "Not a valid date; expected YYYY-MM-DD."),
        ("1990-04-12T00:00:00", "Not a valid date; expected YYYY-MM-DD."),
        ("1990-02-30", "Not a valid date; expected YYYY-MM-DD."),
        ("１９９０-04-12", "Not a valid date; expected YYYY-MM-DD."),
        (19900412, "Not a valid date; expected YYYY-MM-DD."),
        ("1899-12-31", "Must not be before 1900-01-01."),
        (None, "Field may not be null."),
    ],
    ids=["no zero padding", "basic format", "week date", "date-time", "30 February",
         "non-ASCII digits", "number", "before 1900", "null"],
)
def test_dates_are_iso_calendar_dates_since_1900(
        catalogue: Catalogue, value: Any, message: str) -> None:
    body = _valid()
    body["respondent"]["date_of_birth"] = value
    assert _errors(catalogue, body) == {"respondent.date_of_birth": [message]}


def test_date_of_birth_may_be_today_but_not_tomorrow_utc(catalogue: Catalogue) -> None:
    body = _valid()
    body["respondent"]["date_of_birth"] = datetime.now(UTC).date().isoformat()
    assert catalogue.load(body)["respondent"]["date_of_birth"] == body["respondent"][
        "date_of_birth"]
    body["respondent"]["date_of_birth"] = _tomorrow()
    assert _errors(catalogue, body) == {"respondent.date_of_birth": ["Must not be in the future."]}


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        (["yes", "no", "maybe"], {"answers.mood.list.2": ["Must be one of: yes, no."]}),
        (["yes", "no", None], {"answers.mood.list.2": ["Field may not be null."]}),
        (["yes"] * 4, {"answers.mood.list": ["Length must be 3."]}),
        ("yes", {"answers.mood.list": ["Not a valid list."]}),
    ],
    ids=["element out of domain", "null element", "too long", "not a list"],
)
def test_choice_list_has_exact_length_and_domain(
        catalogue: Catalogue, value: Any, errors: dict[str, list[str]]) -> None:
    body = _valid()
    body["answers"]["mood"]["list"] = value
    assert _errors(catalogue, body) == errors


def test_repeating_group_is_capped(catalogue: Catalogue) -> None:
    body = _valid()
    body["answers"]["history"]["trials"] = [{"name": "a"}] * (MAX_REPEATS + 1)
    assert _errors(catalogue, body) == {
        "answers.history.trials": [f"Longer than maximum length {MAX_REPEATS}."]}
    body["answers"]["history"]["trials"] = [{"name": "a"}] * MAX_REPEATS
    assert len(catalogue.load(body)["answers"]["history"]["trials"]) == MAX_REPEATS


def test_repeating_group_may_be_empty_but_not_absent(catalogue: Catalogue) -> None:
    body = _valid()
    body["answers"]["history"]["trials"] = []
    assert catalogue.load(body)["answers"]["history"] == {"trials": []}
    body["answers"]["history"] = {}
    assert _errors(catalogue, body) == {
        "answers.history.trials": ["Missing data for required field."]}


def test_optional_section_may_be_left_out(catalogue: Catalogue) -> None:
    body = _valid()
    for section in ("screen", "pregnancy", "mood"):
        del body["answers"][section]
    assert catalogue.load(body)["answers"] == {
        k: v for k, v in _valid()["answers"].items() if k in ("scale", "history")}


def test_enabled_required_item_must_be_answered(catalogue: Catalogue) -> None:
    body = _valid()
    body["answers"]["screen"] = {"a": "no", "b": "yes"}
    assert _errors(catalogue, body) == {
        "answers.screen.follow_up": ["Missing data for required field."]}


def test_disabled_item_is_not_required(catalogue: Catalogue) -> None:
    body = _valid()
    body["answers"]["screen"] = {"a": "no", "b": "no"}
    assert catalogue.load(body)["answers"]["screen"] == {"a": "no", "b": "no"}


def test_enable_behaviour_all_needs_every_condition(catalogue: Catalogue) -> None:
    body = _valid()
    body["answers"]["screen"].update(both="x")
    assert _errors(catalogue, body) == {"answers.screen.both": [
        'Must not be answered unless answers.screen.a is "yes" and answers.screen.b is "yes".']}
    body["answers"]["screen"].update(b="yes")
    assert catalogue.load(body)["answers"]["screen"]["both"] == "x"


def test_enable_when_across_groups(catalogue: Catalogue) -> None:
    body = _valid()
    body["respondent"]["sex_at_birth"] = "male"
    assert _errors(catalogue, body) == {"answers.pregnancy.pregnant": [
        'Must not be answered unless respondent.sex_at_birth is "female".']}
    del body["respondent"]["sex_at_birth"]
    assert list(_errors(catalogue, body)) == ["answers.pregnancy.pregnant"]


def test_enable_when_inside_a_repetition_reads_its_own_siblings(catalogue: Catalogue) -> None:
    body = _valid()
    body["answers"]["history"]["trials"] = [
        {"name": "a", "stopped": "yes", "why": "x"},
        {"name": "b", "stopped": "no", "why": "y"},
        {"name": "c", "why": "z"},
    ]
    message = 'Must not be answered unless answers.history.trials.stopped is "yes".'
    assert _errors(catalogue, body) == {
        "answers.history.trials.1.why": [message],
        "answers.history.trials.2.why": [message],
    }


def test_enable_when_compares_type_as_well_as_value() -> None:
    flag = Item("s.flag", ItemKind.CHOICE, options=(Option(1, "one"), Option(0, "zero")))
    gated = Item("s.gated", ItemKind.STRING, enable_when=(EnableWhen("s.flag", 1),))
    catalogue = Catalogue([_small(extra=(Item("s", ItemKind.GROUP, children=(flag, gated)),))])
    body = _valid()
    body["answers"]["s"] = {"flag": True, "gated": "x"}
    errors = _errors(catalogue, body)
    assert errors["answers.s.gated"] == ['Must not be answered unless answers.s.flag is 1.']
    body["answers"]["s"] = {"flag": 1, "gated": "x"}
    assert catalogue.load(body)["answers"]["s"] == {"flag": 1, "gated": "x"}


def test_nulls_are_rejected_everywhere(catalogue: Catalogue) -> None:
    body = _valid()
    body["respondent"]["given_name"] = None
    body["answers"]["screen"] = None
    body["answers"]["history"]["trials"] = [None]
    assert _errors(catalogue, body) == {
        "respondent.given_name": ["Field may not be null."],
        "answers.screen": ["Field may not be null."],
        "answers.history.trials.0": ["Field may not be null."],
    }


CANARIES = ("Zqxwvgivenname", "Zqxwv Family", "1901-02-03", "zqxwv@example.org", "+1 555 0199")


def test_no_error_message_repeats_a_submitted_value(catalogue: Catalogue) -> None:
    """Every kind of error, each provoked with a canary value (spec §8)."""
    body = _valid()
    body["respondent"] = {"given_name": CANARIES[0], CANARIES[1]: CANARIES[2],
                          "date_of_birth": CANARIES[3], "sex_at_birth": CANARIES[4]}
    body["answers"]["scale"] = {"q1": CANARIES[0], "q2": 99}
    body["answers"]["screen"] = {"a": CANARIES[1], "both": CANARIES[2]}
    body["answers"]["history"]["trials"] = [{"name": CANARIES[3] * 3, "weeks": CANARIES[4]}]
    body["answers"]["mood"] = {"list": CANARIES[0]}
    text = json.dumps(_errors(catalogue, body))
    for canary in (*CANARIES, "99"):
        assert canary not in text


def test_unknown_member_names_are_shown_only_when_they_look_like_field_names(
        catalogue: Catalogue) -> None:
    body = _valid()
    body["respondent"].update({"nick_name": 1, "ada@example.org": 1, "x" * 65: 1})
    assert _errors(catalogue, body) == {
        "respondent.nick_name": ["Unknown field."],
        "respondent.<unknown>": ["Unknown field.", "Unknown field."],
    }


def test_flatten_errors_names_object_level_errors_by_the_object_path() -> None:
    nested = {"a": {"_schema": ["x"], 0: {"b": ["y", "z"]}}, "_schema": ["w"]}
    assert flatten_errors(nested) == {"a": ["x"], "a.0.b": ["y", "z"], "_schema": ["w"]}


def test_schemas_are_built_once_per_version() -> None:
    catalogue = Catalogue([_small("1"), _small("2")])
    first = catalogue.schema("small", "1")
    assert catalogue.schema("small", "1") is first
    assert catalogue.schema("small", "2") is not first


def test_mixed_option_types_are_a_definition_error() -> None:
    mixed = Item("s.q", ItemKind.CHOICE, options=(Option(1, "one"), Option("two", "two")))
    with pytest.raises(ValueError, match="all integers or all strings"):
        Catalogue([_small(extra=(Item("s", ItemKind.GROUP, children=(mixed,)),))])


# The published definition, through the default catalogue.

SPEC_EXAMPLE: dict[str, Any] = spec_example_body()


def test_spec_section_4_example_is_valid_and_loads_unchanged() -> None:
    assert default_catalogue().load(copy.deepcopy(SPEC_EXAMPLE)) == SPEC_EXAMPLE


def test_default_catalogue_serves_the_published_definition() -> None:
    assert default_catalogue().find("ketamine-intake") is KETAMINE_INTAKE
