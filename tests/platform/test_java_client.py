"""A third language: the Java client (clients/java) against a running Python server.

Maven generates the stubs from proto/ at build time and runs the project's JUnit tests, whose
live-server tests upsert, search, suggest, record an order, score creators and read a BadRequest
through the server this test starts. Maven's repository is `.tools/m2` (git-ignored): the first run
downloads the plugins, protoc and the libraries from Maven Central (minutes), later runs only
what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import pytest
from xiaodian.platform.server import XiaodianServer

pytestmark = pytest.mark.backend_independent  # a client's calls over the wire

REPO = Path(__file__).resolve().parents[2]
JAVA_PROJECT = REPO / "clients" / "java"
MAVEN_REPOSITORY = REPO / ".tools" / "m2"
REPORTS = JAVA_PROJECT / "target" / "surefire-reports"
LIVE_SUITE = "dev.xiaodian.client.LiveServerTest"
MAVEN_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Suite:
    """The counts of one surefire report (one JUnit test class)."""

    name: str
    tests: int
    skipped: int
    failures: int
    errors: int


def read_reports(folder: Path) -> dict[str, Suite]:
    """The suites of surefire's XML reports in `folder`, by class name."""
    suites: dict[str, Suite] = {}
    for path in sorted(folder.glob("TEST-*.xml")):
        root = ElementTree.parse(path).getroot()
        name = root.attrib["name"]
        suites[name] = Suite(
            name=name,
            tests=int(root.attrib["tests"]),
            skipped=int(root.attrib.get("skipped", "0")),
            failures=int(root.attrib.get("failures", "0")),
            errors=int(root.attrib.get("errors", "0")),
        )
    return suites


@pytest.mark.timeout(MAVEN_TIMEOUT_SECONDS + 60)
def test_java_client_calls_every_service(server: XiaodianServer) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        pytest.fail("mvn is not installed (the Java client needs Maven 3.8+ and a JDK 17+)")
    shutil.rmtree(REPORTS, ignore_errors=True)  # only this run's reports count
    env = {
        **os.environ,
        "XIAODIAN_ADDR": server.address,
        "XIAODIAN_TOKEN": server.config.admin_token_path.read_text().strip(),
    }
    env.pop("XIAODIAN_SERVER_DATA_DIR", None)
    result = subprocess.run(
        [mvn, "-B", "-q", f"-Dmaven.repo.local={MAVEN_REPOSITORY}", "test"],
        cwd=JAVA_PROJECT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=MAVEN_TIMEOUT_SECONDS,
    )
    output = (result.stdout + result.stderr)[-20_000:]
    assert result.returncode == 0, output

    suites = read_reports(REPORTS)
    assert LIVE_SUITE in suites, f"no report of {LIVE_SUITE} in {REPORTS}: {sorted(suites)}\n{output}"
    live = suites[LIVE_SUITE]
    assert live.tests >= 6, live
    assert live.skipped == 0, f"the live-server tests were skipped: {live}"
    for suite in suites.values():
        assert (suite.skipped, suite.failures, suite.errors) == (0, 0, 0), suite
