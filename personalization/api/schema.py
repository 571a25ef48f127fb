"""OpenAPI post-processing: the error answers every ShopSense endpoint can give, documented once.

drf-spectacular documents what a view declares; DRF itself also answers 400 (bad parameters or body),
403 (not allowed), 404 (no such object, or a page past the end), 415 (a body it cannot parse) and
429 (throttled). This hook adds
those to every operation that lacks them, so that clients (and the schema tests) can rely on the
schema. Add it to ``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]`` after drf-spectacular's own.
"""
from __future__ import annotations

from typing import Any

ERROR_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERRORS = {
    "type": "object",
    "description": "What was wrong: a message (`detail`) or messages per field name.",
    "additionalProperties": {},
}
DESCRIPTIONS = {
    "400": "Bad parameters or body; the answer says which.",
    "403": "Not signed in, or not allowed.",
    "404": "No such object (or a page past the end of the list).",
    "415": "The body is not JSON (or a form the endpoint accepts), or it cannot be parsed.",
    "429": "Too many requests: throttled.",
}


def _response(code: str, component: str) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook (see the module docstring)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorDetail", ERROR_DETAIL)
    schemas.setdefault("ValidationErrors", VALIDATION_ERRORS)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if operation.get("security") == []:  # open on purpose (the health check): no auth, no throttle
                continue
            parameters = operation.get("parameters", [])
            wanted = {"403": "ErrorDetail", "429": "ErrorDetail"}
            if parameters or "requestBody" in operation:
                wanted["400"] = "ValidationErrors"
            if "requestBody" in operation:
                wanted["415"] = "ErrorDetail"
            if any(p.get("in") == "path" or p.get("name") == "page" for p in parameters):
                wanted["404"] = "ErrorDetail"
            for code, component in wanted.items():
                operation["responses"].setdefault(code, _response(code, component))
    return result
