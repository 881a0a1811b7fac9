"""What a clinician sends to decide or to add a note, checked the same way wherever it
comes from (the API's JSON body, the console's form): marshmallow schemas that refuse
unknown members and bound every length."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from screening.services import review
from screening.storage.models import DECISION_OUTCOMES

MAX_ACKNOWLEDGED_FLAGS = 100
FLAG_ID_MAX_CHARS = 64


class DecisionSchema(Schema):
    """``{"outcome", "rationale", "acknowledged_flags"}``; unknown members are refused."""

    class Meta:
        unknown = RAISE

    outcome = fields.String(required=True, validate=validate.OneOf(DECISION_OUTCOMES))
    rationale = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=review.RATIONALE_MAX_CHARS),
    )
    acknowledged_flags = fields.List(
        fields.String(validate=validate.Length(min=1, max=FLAG_ID_MAX_CHARS)),
        required=True,
        validate=validate.Length(max=MAX_ACKNOWLEDGED_FLAGS),
    )


class NoteSchema(Schema):
    """``{"text"}``: 1 to 4000 characters, not blank; unknown members are refused."""

    class Meta:
        unknown = RAISE

    text = fields.String(
        required=True, validate=validate.Length(min=1, max=review.NOTE_MAX_CHARS)
    )

    @validates("text")
    def _not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("Must not be blank.")
