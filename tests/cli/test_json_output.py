"""`nurture run` in JSON mode: honcho's lines and the children's all come out as JSON objects."""

from __future__ import annotations

import io
import json
from datetime import datetime

from honcho.printer import Message

from cli.json_output import JsonPrinter


def test_every_line_becomes_one_json_object_naming_its_process() -> None:
    output = io.StringIO()
    printer = JsonPrinter(output)
    at = datetime(2026, 3, 2, 10, 0, 0)
    child = json.dumps({"time": "t", "level": "INFO", "logger": "web", "message": "hallo"})
    printer.write(Message("line", f"{child}\n", at, "web", None))
    printer.write(Message("line", b"worker: Warm shutdown (MainProcess)\n\n", at, "worker", None))
    printer.write(Message("line", "web started (pid=1)\n", at, None, None))
    printer.write(Message("line", "Traceback: anna@example.com\n", at, "beat", None))

    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    assert lines[0] == {**json.loads(child), "process": "web"}
    assert (lines[1]["process"], lines[1]["logger"], lines[1]["level"]) == (
        "worker",
        "worker",
        "WARNING",
    )
    assert lines[1]["message"] == "worker: Warm shutdown (MainProcess)"
    assert (lines[2]["process"], lines[2]["logger"]) == ("system", "honcho")
    assert lines[3]["message"] == "Traceback: [address]"
    assert len(lines) == 4
