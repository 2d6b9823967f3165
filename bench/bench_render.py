"""Benchmark: personalised lesson emails built per second on one core, against bare Jinja2.

Run: .venv/bin/python bench/bench_render.py [--messages 20000] [--runs 7]
(smallest sensible run: --messages 500 --runs 1)

Each run builds MESSAGES complete `Message` objects (lesson HTML + text, signed unsubscribe,
open-pixel and click tokens, headers, tags) for distinct recipients, cycling through
the course's lessons. The baseline, measured in the same process, renders a compiled
one-variable Jinja2 template the same number of times. Medians over RUNS runs are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import (
    ROOT,
    build_bench_runtime,
    interleaved_times,
    medians,
    ratio,
    results_table,
    set_nurture_env,
)

sys.path.insert(0, str(ROOT / "tests"))
set_nurture_env(
    env="test",
    base_url="https://cursus.umoya.example",
    secret_key="benchmark-secret-key-0123456789abcdef",
    mail_backend="outbox",
    unsubscribe_mailto="uitschrijven@umoya.example",
)

from jinja2 import Environment  # noqa: E402
from rich.console import Console  # noqa: E402

from course.loader import Course, load_course_from  # noqa: E402
from emails.render import Recipient  # noqa: E402
from providers.sendgrid.requests import build_request_body  # noqa: E402


def pick_course() -> Course:
    """Use the shipped course, or the test sample course when it is not there."""
    shipped = ROOT / "course" / "content" / "rugpijn-en-training"
    if (shipped / "course.toml").exists():
        return load_course_from(shipped)
    from emails_support import write_sample_course

    return load_course_from(write_sample_course(Path(tempfile.mkdtemp())))


def recipients(count: int) -> list[Recipient]:
    """Return distinct recipients, some without a first name."""
    return [
        Recipient(
            subscriber_id=100_000 + n,
            email=f"deelnemer{n}@voorbeeld.nl",
            first_name=None if n % 7 == 0 else f"Naam{n}",
            delivery_id=500_000 + n,
        )
        for n in range(count)
    ]


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    # A fresh runtime, so its Renderer's per-lesson cache starts empty (the cold timings).
    renderer = build_bench_runtime().renderer
    course = pick_course()
    people = recipients(args.messages)
    days = course.days

    template = Environment(autoescape=True).from_string("Hallo {{ name }}!")

    def baseline() -> None:
        for person in people:
            template.render(name=person.first_name)

    def build() -> None:
        for index, person in enumerate(people):
            renderer.lesson(course, 1 + index % days, person)

    def build_and_encode() -> None:
        for index, person in enumerate(people):
            json.dumps(build_request_body(renderer.lesson(course, 1 + index % days, person)))

    cold = []
    for day in range(1, days + 1):
        started = time.perf_counter()
        renderer.lesson(course, day, people[0])
        cold.append(time.perf_counter() - started)

    works = {
        "bare Jinja2, one variable (baseline)": baseline,
        "lesson Message (render + tokens + headers)": build,
        "lesson Message + SendGrid JSON body": build_and_encode,
    }
    for work in works.values():
        work()  # warm up
    results = medians(interleaved_times(works, args.runs))

    sample = renderer.lesson(course, 2, people[1])
    base_rate = args.messages / results["bare Jinja2, one variable (baseline)"]
    table = results_table(
        f"Personalised lesson emails per second, one core ({course.slug})",
        "what",
        "median s / run",
        "per item µs",
        "items/s",
        "vs baseline",
    )
    for name, seconds in results.items():
        rate = args.messages / seconds
        table.add_row(
            name,
            f"{seconds:.3f}",
            f"{seconds / args.messages * 1e6:.1f}",
            f"{rate:,.0f}",
            ratio(rate, base_rate, digits=3, suffix="×"),
        )
    console = Console()
    console.print(table)
    console.print(
        f"Per-lesson preparation (Markdown + layout + CSS inlining), first render of each of "
        f"{days} lessons: median {statistics.median(cold) * 1000:.1f} ms, max "
        f"{max(cold) * 1000:.1f} ms — done once per lesson per process."
    )
    console.print(
        f"Conditions: {args.messages:,} distinct recipients per run, median of {args.runs} runs, "
        f"lessons cycled 1..{days}; HTML {len(sample.html.encode()):,} B + text "
        f"{len(sample.text.encode()):,} B per message; Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs on the machine, pinned to one core, "
        f"single thread, no network; load average {os.getloadavg()[0]:.1f} at the end."
    )
    goal = args.messages / results["lesson Message (render + tokens + headers)"]
    console.print(
        f"Goal ≥ 10,000 messages/s: {'met' if goal >= 10_000 else 'NOT met'} ({goal:,.0f}/s)."
    )


if __name__ == "__main__":
    main()
