"""The HTTP surfaces: the JSON API (``api``), FHIR R4 (``fhir``) and the clinician review
console (``console``), and what every request goes through: authentication (``auth``),
rate limits (``limits``), request ids and logs (``observability``) and the one error
renderer (``errors``: problem+json, OperationOutcome or HTML by surface).

A surface imports services, storage and intake, never another surface's views.
"""
