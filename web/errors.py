"""Dutch error pages for the whole app (JSON for API clients), not Werkzeug's English ones."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template
from werkzeug.exceptions import HTTPException

from web.context import wants_json
from web.courses import page_course

DUTCH_MESSAGES = {
    400: "Dit verzoek klopt niet.",
    403: "Dit mag niet.",
    404: "Deze pagina bestaat niet (meer).",
    405: "Deze pagina werkt niet zo.",
    413: "Dit verzoek is te groot.",
    429: "Te veel verzoeken. Probeer het over een minuut opnieuw.",
    500: "Er ging bij ons iets mis. Probeer het later opnieuw.",
}


def _render_error(error: HTTPException) -> Response:
    if error.response is not None:
        # An exception that carries its own answer (Flask-Limiter's Dutch 429) keeps it.
        return error.response  # type: ignore[return-value]
    status = error.code or 500
    message = DUTCH_MESSAGES.get(status, error.name)
    if wants_json():
        response = jsonify(error=message)
    else:
        page = render_template(
            "public/message.html",
            course=page_course(),
            title="Dat ging niet goed",
            message=message,
        )
        response = Response(page, mimetype="text/html")
    response.status_code = status
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    return response


def init_app(app: Flask) -> None:
    """Answer HTTP errors that no blueprint handled with a Dutch page or JSON."""
    app.register_error_handler(HTTPException, _render_error)
