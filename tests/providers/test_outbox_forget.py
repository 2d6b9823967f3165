"""Erasure reaches the mail backends: `forget` deletes a person's outbox files, any case."""

from __future__ import annotations

from pathlib import Path

from emails.message import Message, Tags
from providers.outbox import OutboxBackend
from providers.sendgrid.mail import SendGridBackend
from store.clock import system_clock

ANNA = "anna.jansen@example.com"


def message(to_email: str, to_name: str = "", day: int = 1) -> Message:
    return Message(
        to_email=to_email,
        to_name=to_name,
        subject=f"Les {day}",
        html=f"<p>Hallo {to_name or 'daar'},</p>",
        text=f"Hallo {to_name or 'daar'},",
        from_email="cursus@umoya.example",
        from_name="UMOYA",
        tags=Tags(kind="lesson", course="rugpijn-en-training", day=day, delivery_id=day),
    )


def stems(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in folder.iterdir():
        found.setdefault(path.stem, set()).add(path.suffix)
    return found


def test_forget_removes_every_outbox_file_of_the_address_in_any_case(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox", system_clock)
    mine = [
        outbox.send(message(ANNA, "Anna", day=1)),
        # The address as a person typed it, and a name that needs RFC 2047 encoding.
        outbox.send(message("Anna.Jansen@Example.COM", "Anna Zoë", day=2)),
        outbox.send(message(ANNA, day=3)),
    ]
    other = outbox.send(message("bert@example.com", "Bert (anna.jansen@example.com)"))
    assert len(stems(outbox.folder)) == 4

    assert outbox.forget("ANNA.JANSEN@example.com") == 6

    left = stems(outbox.folder)
    assert left == {str(other.message_id).removeprefix("outbox-"): {".eml", ".html"}}
    assert all(str(result.message_id).removeprefix("outbox-") not in left for result in mine)
    # Nothing of hers is left on disk, in any file.
    for path in outbox.folder.iterdir():
        assert "anna zoë" not in path.read_text(encoding="utf-8").lower()
    assert outbox.forget(ANNA) == 0


def test_forget_without_an_outbox_folder_removes_nothing(tmp_path: Path) -> None:
    assert OutboxBackend(tmp_path / "never-written", system_clock).forget(ANNA) == 0


def test_forget_leaves_an_eml_that_cannot_be_read_alone(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path / "outbox", system_clock)
    outbox.send(message(ANNA))
    (outbox.folder / "stray.eml").write_bytes(b"\xff\xfe not a mail at all")
    assert outbox.forget(ANNA) == 2
    assert [path.name for path in outbox.folder.iterdir()] == ["stray.eml"]


def test_sendgrid_keeps_no_copy_to_forget() -> None:
    backend = SendGridBackend("key", "http://127.0.0.1:9", 1.0, system_clock)
    assert backend.forget(ANNA) == 0
