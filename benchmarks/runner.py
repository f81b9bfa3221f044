"""`xiaodian bench [suite ...] [--quick]`: runs benchmark suites with a progress display, stamps
each result with the machine and the commit, appends it to `results/history.jsonl`, then
regenerates `RESULTS.md` and the plots from the whole history (`benchmarks/report.py`).

Each suite is a module with `run(quick: bool) -> dict` of figures, measured side by side in one
process or one run (medians of repeats, warm-up excluded; see each module's docstring). A
suite's record is appended as soon as it finishes, so a later failure loses nothing.
`--quick` runs every suite on small inputs in seconds; its records are marked `"quick": true`
and the report prefers full runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
#: Every suite, in the order `xiaodian bench` runs them; each is `benchmarks.<name>`.
SUITES = ("engine", "relevance", "images", "service", "settlement", "storage", "creators", "crash")


def _command_output(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return float("nan")


def machine_facts() -> dict[str, Any]:
    """What a reader needs to compare two records: hardware, versions and the code measured."""
    from importlib.metadata import PackageNotFoundError, version

    def package(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    commit = _command_output("git", "rev-parse", "HEAD")
    dirty = _command_output("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "rustc": _command_output("rustc", "--version"),
        "packages": {name: package(name) for name in ("xiaodian", "grpcio", "protobuf", "tantivy", "pillow")},
        "commit": commit,
        "commit_dirty": bool(dirty) and dirty != "unknown",
    }


def append_history(results_dir: Path, record: dict[str, Any]) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    with (results_dir / "history.jsonl").open("a", encoding="utf-8") as history:
        history.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def run_suites(
    names: list[str], quick: bool, results_dir: Path, on_event: Callable[[str, str, float], None]
) -> list[dict[str, Any]]:
    """Runs each suite, appending its record to the history; `on_event(suite, "start" | "done",
    seconds)` drives the progress display."""
    machine = machine_facts()
    records = []
    for name in names:
        suite = importlib.import_module(f"benchmarks.{name}")
        on_event(name, "start", 0.0)
        started = time.perf_counter()
        figures = suite.run(quick=quick)
        seconds = time.perf_counter() - started
        record = {
            "suite": name,
            "quick": quick,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds, 2),
            "machine": machine,
            "commit": machine["commit"][:12],
            "figures": figures,
        }
        append_history(results_dir, record)
        records.append(record)
        on_event(name, "done", seconds)
    return records


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="xiaodian bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", metavar="suite", help=f"any of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="small inputs: every suite in seconds")
    parser.add_argument(
        "--results-dir", dest="results_dir", type=Path, default=RESULTS_DIR, help="history, plots (and RESULTS.md)"
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="where to write the report (default: RESULTS.md beside the results folder)",
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; known: {', '.join(SUITES)}")
    names = args.suites or list(SUITES)

    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from benchmarks import report

    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} suites"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        overall = progress.add_task("benchmarks" + (" (quick)" if args.quick else ""), total=len(names))

        def on_event(suite: str, event: str, seconds: float) -> None:
            if event == "start":
                progress.update(overall, description=f"{suite}" + (" (quick)" if args.quick else ""))
            else:
                progress.advance(overall)
                progress.console.print(f"  {suite}: done in {seconds:.1f} s")

        run_suites(names, args.quick, args.results_dir, on_event)
    report_path = args.report or args.results_dir.parent / "RESULTS.md"
    written = report.regenerate(args.results_dir, report_path)
    console.print(f"history: {args.results_dir / 'history.jsonl'}; report: {report_path}")
    for path in written:
        console.print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
