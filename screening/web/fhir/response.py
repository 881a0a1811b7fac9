"""A QuestionnaireResponse to the native submission body that ``POST /api/v1/submissions``
takes, so both go through the same validation, evaluation, idempotency and audit.

Only a ``completed`` or ``amended`` response to a Questionnaire this service publishes is
read (canonical ``url``, optionally ``|version``); a response to another publisher's form
is refused with a hint on answering ours instead, whose items may be named by LOINC code.
Its items are read by ``screening.web.fhir.items``.

Every problem becomes an ``Issue`` located by a simple FHIRPath into the response
(``QuestionnaireResponse.item[1].item[0]``) and, for an item, its linkId. ``Parsed.locate``
does the same for the native schema's error paths (``answers.phq9.q1`` → ``phq9.q1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.questionnaire_model import ItemKind, Questionnaire
from screening.intake.schemas import Catalogue
from screening.web.fhir import loinc
from screening.web.fhir.items import ROOT, ItemReader
from screening.web.fhir.outcome import REQUIRED_MESSAGE, Issue, raise_for, refuse
from screening.web.fhir.questionnaire import canonical_url, list_element_link_id

ACCEPTED_STATUSES = ("completed", "amended")


@dataclass(frozen=True, slots=True)
class Parsed:
    """The native body of a response, and where each native path came from."""

    questionnaire: Questionnaire
    body: dict[str, Any]
    locations: Mapping[str, str] = field(default_factory=dict)

    def locate(self, native_path: str, messages: list[str]) -> Issue:
        """The issue of a native schema error at ``native_path``."""
        where = native_path
        while where and where not in self.locations:
            where = where.rpartition(".")[0]
        code = "required" if REQUIRED_MESSAGE in messages else "invalid"
        # Enable-when messages name native paths ("answers.asq.q1"); here they are linkIds.
        text = " ".join(messages).replace("answers.", "")
        return Issue(code, text, expression=self.locations.get(where, ROOT),
                     target=link_id(self.questionnaire, native_path))


def link_id(questionnaire: Questionnaire, native_path: str) -> str:
    """The linkId of a native path: ``answers.phq9.q1`` → ``phq9.q1``; a repetition index
    is dropped, an index into a list item names its element (``answers.mdq.q1.0`` →
    ``mdq.q1.1``)."""
    segments = native_path.split(".")
    if segments[0] == "answers":
        segments = segments[1:]
    path: list[str] = []
    for segment in segments:
        if not segment.isdigit():
            path.append(segment)
            continue
        try:
            listed = questionnaire.item(".".join(path))
        except KeyError:
            continue
        if listed.kind is ItemKind.CHOICE_LIST:
            return list_element_link_id(listed, int(segment))
    return ".".join(path)


def parse(resource: Any, catalogue: Catalogue) -> Parsed:
    """The native body of a QuestionnaireResponse; raises ``InvalidResource`` (400) or
    ``UnprocessableResource`` (422) with every issue found."""
    if not isinstance(resource, Mapping):
        refuse([Issue("structure", "The body must be a QuestionnaireResponse resource.")])
    if resource.get("resourceType") != ROOT:
        refuse([Issue("structure", "The body must be a QuestionnaireResponse resource.",
                      expression="resourceType")])
    raise_for(_status_issues(resource.get("status")))
    questionnaire = resolve(resource.get("questionnaire"), catalogue)
    reader = ItemReader(questionnaire)
    body = reader.read(resource.get("item"))
    raise_for(reader.issues)
    return Parsed(questionnaire, body, reader.locations)


def _status_issues(status: Any) -> list[Issue]:
    where = f"{ROOT}.status"
    if status in ACCEPTED_STATUSES:
        return []
    if status in ("in-progress", "stopped", "entered-in-error"):
        return [Issue("business-rule", "Only a completed or amended response is accepted; "
                      "submit the response once it is completed.", expression=where)]
    return [Issue("structure", "status must be a QuestionnaireResponse status code.",
                  expression=where)]


def resolve(reference: Any, catalogue: Catalogue) -> Questionnaire:
    """The published questionnaire a ``questionnaire`` canonical names; 422 otherwise."""
    where = f"{ROOT}.questionnaire"
    if not isinstance(reference, str) or not reference:
        refuse([Issue("required", "questionnaire must name the Questionnaire answered.",
                      expression=where)])
    url, _, version = reference.partition("|")
    for current in catalogue.current():
        if canonical_url(current) == url:
            found = catalogue.find(current.id, version or None)
            if found is not None:
                return found
            refuse([Issue("not-found", f"Unknown version of {url}; see GET "
                          f"/fhir/Questionnaire?url={url}.", expression=where)])
    published = ", ".join(canonical_url(q) for q in catalogue.current())
    hint = " ".join(loinc.submission_hint(q) for q in catalogue.current())
    refuse([Issue("not-found", "Unknown Questionnaire: this service accepts only responses "
                  f"to its own Questionnaires ({published}).", expression=where, hint=hint)])
