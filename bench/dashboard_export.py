"""Child process of bench_dashboard.py: stream the subscribers CSV export, report peak RSS.

Reads the NURTURE_* environment the parent sets; prints "ROWS PEAK_KIB", the peak being
the largest RSS sampled while the body streamed.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from common import build_bench_runtime  # noqa: E402


def main() -> None:
    """Fetch /admin/export/subscribers.csv chunk by chunk, as a browser download reads it."""
    from web import create_app

    runtime = build_bench_runtime()
    client = create_app(runtime=runtime).test_client()
    token = base64.b64encode(f"beheer:{os.environ['NURTURE_ADMIN_PASSWORD']}".encode()).decode()
    response = client.get(
        "/admin/export/subscribers.csv",
        headers={"Authorization": f"Basic {token}"},
        buffered=False,
    )
    lines = 0
    peak = 0  # the largest RSS seen while rows streamed, sampled every chunk
    for chunk in response.response:
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        peak = max(peak, rss_kib())
    response.close()
    print(lines - 1, peak)


def rss_kib() -> int:
    """Return this process's resident set size in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


if __name__ == "__main__":
    main()
