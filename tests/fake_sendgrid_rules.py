"""What SendGrid's v3 mail/send refuses, checked the way SendGrid words it (for the fake server)."""

from __future__ import annotations

import json
from typing import Any

MAX_PERSONALIZATIONS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SUBSTITUTIONS_BYTES = 10_000
MAX_CATEGORIES = 10
MAX_CATEGORY_CHARS = 255
RESERVED_HEADERS = frozenset(
    {
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    }
)
ERROR_TEXTS = {
    400: "Bad Request",
    401: "The provided authorization grant is invalid, expired, or revoked",
    403: "access forbidden",
    413: "The JSON payload you have included in your request is too large.",
    429: "too many requests",
    500: "internal error",
    502: "bad gateway",
    503: "service unavailable",
}


class MailError(Exception):
    """A request SendGrid would refuse: status plus one field-level error."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        """Keep the status and the error as SendGrid words it."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_body(message: str, field: str | None = None, help_url: str | None = None) -> bytes:
    """Return SendGrid's error JSON for one error."""
    return json.dumps({"errors": [{"message": message, "field": field, "help": help_url}]}).encode()


def _check(condition: bool, message: str, field: str) -> None:
    if not condition:
        raise MailError(400, message, field)


def _is_address(value: Any) -> bool:
    return isinstance(value, str) and value.count("@") == 1 and "." in value.split("@")[1]


def _non_empty(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _json_type(value: Any) -> str:
    """Return the JSON schema name of VALUE's type, as SendGrid's type errors word it."""
    names = {bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), "string")


def _check_string_values(mapping: Any, name: str, field: str) -> None:
    _check(isinstance(mapping, dict), f"{name} must be an object", field)
    for key, value in mapping.items():
        _check(
            isinstance(value, str),
            f"Invalid type. Expected: string, given: {_json_type(value)}.",
            f"{field}.{key}",
        )


def _check_custom_args(args: Any, field: str) -> None:
    _check_string_values(args, "custom_args", field)


def _check_personalization_extras(item: dict[str, Any], where: str) -> None:
    """Check a personalization's own subject and substitutions."""
    if "subject" in item:
        subject = item["subject"]
        _check(
            isinstance(subject, str),
            f"Invalid type. Expected: string, given: {_json_type(subject)}.",
            f"{where}.subject",
        )
        _check(
            subject != "",
            "The subject of your email must be a string at least one character in length.",
            f"{where}.subject",
        )
    if "substitutions" in item:
        subs = item["substitutions"]
        _check_string_values(subs, "substitutions", f"{where}.substitutions")
        # "Collective size" counted as the UTF-8 bytes of every key plus every value: what the
        # substitutions add to a message, without the JSON quoting around them.
        size = sum(len(key.encode()) + len(value.encode()) for key, value in subs.items())
        _check(
            size <= MAX_SUBSTITUTIONS_BYTES,
            "The total size of substitutions for a personalization may not exceed 10000 bytes.",
            f"{where}.substitutions",
        )


def validate_mail(body: Any) -> None:
    """Raise MailError for what SendGrid's mail/send refuses; return quietly when it's fine."""
    _check(isinstance(body, dict), "The request body must be a JSON object.", "")
    personalizations = body.get("personalizations")
    _check(
        isinstance(personalizations, list) and len(personalizations) >= 1,
        "The personalizations field is required and must have at least one personalization.",
        "personalizations",
    )
    _check(
        len(personalizations) <= MAX_PERSONALIZATIONS,
        "The personalizations field must have 1000 or fewer items.",
        "personalizations",
    )
    seen: set[str] = set()
    for index, item in enumerate(personalizations):
        where = f"personalizations.{index}"
        _check(isinstance(item, dict), "Each personalization must be an object.", where)
        to = item.get("to")
        _check(
            isinstance(to, list) and len(to) >= 1,
            "The to array is required for all personalization objects, and must have at least "
            "one email object with a valid email address.",
            f"{where}.to",
        )
        for position, recipient in enumerate(to):
            spot = f"{where}.to.{position}.email"
            email = recipient.get("email") if isinstance(recipient, dict) else None
            _check(_is_address(email), "Does not contain a valid address.", spot)
            assert isinstance(email, str)
            _check(
                email.lower() not in seen,
                "Each email address in the personalization block should be unique between to, "
                f"cc, and bcc. We found the first duplicate instance of [{email}] in the "
                f"personalizations.{index}.to field.",
                spot,
            )
            seen.add(email.lower())
            if "name" in recipient:
                _check(isinstance(recipient["name"], str), "Invalid name.", f"{spot[:-6]}.name")
        if "custom_args" in item:
            _check_custom_args(item["custom_args"], f"{where}.custom_args")
        if "headers" in item:
            _check_headers(item["headers"], f"{where}.headers")
        _check_personalization_extras(item, where)
    sender = body.get("from")
    _check(
        isinstance(sender, dict) and _is_address(sender.get("email")),
        "The from object must be provided for every email send. It is an object that requires "
        "the email parameter, but may also contain a name parameter.",
        "from.email",
    )
    if "reply_to" in body:
        reply_to = body["reply_to"]
        _check(
            isinstance(reply_to, dict) and _is_address(reply_to.get("email")),
            "The reply_to email does not contain a valid address.",
            "reply_to.email",
        )
    has_template = isinstance(body.get("template_id"), str) and body["template_id"]
    content = body.get("content")
    if not has_template:
        _check(
            isinstance(content, list) and len(content) >= 1,
            "Unless a valid template_id is provided, the content parameter is required.",
            "content",
        )
    if content is not None:
        _check_content(content)
    if not has_template:
        top_subject = _non_empty(body.get("subject"))
        every_own_subject = all(_non_empty(p.get("subject")) for p in personalizations)
        _check(
            top_subject or every_own_subject,
            "The subject is required. You can get around this requirement if you use a "
            "template with a subject defined or if every personalization has a subject defined.",
            "subject",
        )
    if "custom_args" in body:
        _check_custom_args(body["custom_args"], "custom_args")
    _check_custom_args_size(body.get("custom_args", {}), personalizations)
    categories = body.get("categories", [])
    _check(
        isinstance(categories, list) and len(categories) <= MAX_CATEGORIES,
        "Too many categories. The maximum is 10.",
        "categories",
    )
    for index, category in enumerate(categories):
        _check(
            isinstance(category, str) and len(category) <= MAX_CATEGORY_CHARS,
            "A category cannot be longer than 255 characters.",
            f"categories.{index}",
        )
    if "headers" in body:
        _check_headers(body["headers"], "headers")


def _check_custom_args_size(top: dict[str, str], personalizations: list[Any]) -> None:
    # SendGrid's limit is per personalization: the top-level custom args merged with that
    # personalization's own (its keys win), measured as the merged object's JSON, as before.
    for index, item in enumerate(personalizations):
        own = item.get("custom_args", {})
        _check(
            len(json.dumps({**top, **own}).encode()) < MAX_CUSTOM_ARGS_BYTES,
            "The custom arguments for this message exceed the 10,000 byte limit.",
            f"personalizations.{index}.custom_args" if own else "custom_args",
        )


def _check_content(content: Any) -> None:
    _check(isinstance(content, list), "content must be an array", "content")
    types = []
    for index, part in enumerate(content):
        ok = isinstance(part, dict) and isinstance(part.get("type"), str)
        _check(ok, "The content type must be a string.", f"content.{index}.type")
        _check(
            isinstance(part.get("value"), str) and part["value"] != "",
            "The content value must be a string at least one character in length.",
            f"content.{index}.value",
        )
        types.append(part["type"])
    if "text/html" in types and "text/plain" in types:
        _check(
            types.index("text/plain") < types.index("text/html"),
            "If present, text/plain must be first, followed by text/html, followed by any "
            "other content.",
            "content",
        )


def _check_headers(headers: Any, field: str) -> None:
    _check(isinstance(headers, dict), "headers must be an object", field)
    for name, value in headers.items():
        _check(
            name.lower() not in RESERVED_HEADERS,
            f"The {name} header is reserved and cannot be set.",
            f"{field}.{name}",
        )
        _check(isinstance(value, str), "Header values must be strings.", f"{field}.{name}")
        _check(
            "\r" not in value and "\n" not in value,
            "Header values may not contain line breaks.",
            f"{field}.{name}",
        )
