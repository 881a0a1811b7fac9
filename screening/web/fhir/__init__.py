"""FHIR R4 (4.0.1) interface, generated from the same questionnaire definition as the native
API (``rules.questionnaire``), never written twice.

- ``questionnaire``: the definition as an SDC-renderable R4 Questionnaire (linkIds are the
  native paths) and the answer codings both directions share.
- ``response``: a QuestionnaireResponse to a native submission body, every problem located
  by linkId and element path; ``items`` reads its items, by our linkIds or by the LOINC
  codes a third-party form's linkIds name (``loinc``).
- ``bundle``: a stored submission as a Bundle (QuestionnaireResponse, Patient, score
  Observations, review Task).
- ``outcome``: OperationOutcome bodies, including problems rendered as outcomes.
- ``capability``: the CapabilityStatement of ``GET /fhir/metadata``.

Nothing here imports Flask or the database: the views in ``screening.web.api.fhir`` do I/O.
"""

from __future__ import annotations

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"
#: Canonical URLs of published resources start here. A canonical URL names a resource; it
#: need not resolve, and it must not change between deployments.
CANONICAL_BASE = "https://screening.example/fhir"
LOINC = "http://loinc.org"
