"""The dependency audit's verdicts (scripts/audit.py): a known vulnerability fails unless ignored with a
reason; a service that audits nothing is reported as unavailable, never as clean."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit", ROOT / "scripts" / "audit.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


audit = _audit()
VULN = {"id": "PYSEC-2024-1", "aliases": ["GHSA-aaaa-bbbb-cccc", "CVE-2024-1"], "fix_versions": ["2.0"]}


def test_a_known_vulnerability_is_a_finding_unless_its_id_or_an_alias_is_ignored() -> None:
    report = {"dependencies": [{"name": "jinja2", "version": "1.0", "vulns": [VULN]},
                               {"name": "httpx", "version": "0.28", "vulns": []}]}
    findings, unavailable = audit.pip_findings(report, set())
    assert unavailable is None and len(findings) == 1 and "PYSEC-2024-1" in findings[0] and "2.0" in findings[0]
    assert audit.pip_findings(report, {"CVE-2024-1"}) == ([], None)


def test_a_service_that_audited_nothing_is_unavailable_not_clean() -> None:
    report = {"dependencies": [{"name": "jinja2", "skip_reason": "Dependency not found on PyPI"}]}
    findings, unavailable = audit.pip_findings(report, set())
    assert findings == [] and unavailable and "none of 1" in unavailable


def test_npm_advisories_are_matched_by_ghsa_id_and_errors_are_unavailable() -> None:
    report = {"vulnerabilities": {"lodash": {"via": [
        {"url": "https://github.com/advisories/GHSA-1111-2222-3333", "title": "Prototype pollution", "range": "<4"},
        "another-package"]}}}
    findings, unavailable = audit.npm_findings(report, set())
    assert unavailable is None and findings and "GHSA-1111-2222-3333" in findings[0]
    assert audit.npm_findings(report, {"GHSA-1111-2222-3333"}) == ([], None)
    assert audit.npm_findings({"message": "405 Method Not Allowed", "statusCode": 405}, set())[1]


def test_the_ignore_file_reads_the_first_word_of_each_line(tmp_path: Path) -> None:
    ignore = tmp_path / "audit-ignore.txt"
    ignore.write_text("# comment\nGHSA-1111-2222-3333  # not reachable from Parlor\n\nPYSEC-1 reason\n")
    audit.IGNORE_FILE = ignore
    assert audit.ignored() == {"GHSA-1111-2222-3333", "PYSEC-1"}
