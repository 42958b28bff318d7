"""Known-vulnerability audit of the locked dependencies: `pip-audit` over requirements.lock and
`npm audit --omit=dev` over the web UI's lock file.

Fails (exit 1) on a known vulnerability that `audit-ignore.txt` does not list. When an advisory service
cannot be reached or audits nothing (a registry mirror without the advisory endpoints), it says so plainly
and does not fail: an unreachable service is not a clean bill of health, and not a broken build either.

    python scripts/audit.py [--strict]   # --strict: an unreachable service fails too
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = ROOT / "audit-ignore.txt"
TIMEOUT = 300


def ignored() -> set[str]:
    """Advisory ids (PYSEC-…, GHSA-…, CVE-…) from audit-ignore.txt: the first word of each line."""
    if not IGNORE_FILE.is_file():
        return set()
    lines = (line.split("#", 1)[0].split() for line in IGNORE_FILE.read_text().splitlines())
    return {words[0] for words in lines if words}


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"  could not run {command[0]}: {exc}")
        return None


def python_audit(skip: set[str]) -> tuple[list[str], str | None]:
    """Unignored findings, and why the audit could not be done (None when it was)."""
    done = run([sys.executable, "-m", "pip_audit", "-r", "requirements.lock", "--disable-pip", "--no-deps",
                "--progress-spinner=off", "-f", "json"], ROOT)
    if done is None:
        return [], "pip-audit did not run"
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        return [], f"pip-audit failed: {lines[-1] if lines else done.returncode}"
    return pip_findings(report, skip)


def pip_findings(report: dict[str, Any], skip: set[str]) -> tuple[list[str], str | None]:
    """pip-audit's JSON report → unignored findings; auditing nothing at all is "unavailable"."""
    packages = report.get("dependencies", [])
    unaudited = [p for p in packages if p.get("skip_reason")]
    if not packages or len(unaudited) == len(packages):
        return [], f"the advisory service audited none of {len(packages)} packages ({_first_reason(unaudited)})"
    findings = [f"{p['name']} {p['version']}: {v['id']} (fix: {', '.join(v.get('fix_versions', [])) or 'none'})"
                for p in packages for v in p.get("vulns", [])
                if not ({v["id"], *v.get("aliases", [])} & skip)]
    if unaudited:
        print(f"  note: {len(unaudited)} of {len(packages)} packages could not be audited: "
              + ", ".join(p["name"] for p in unaudited))
    return findings, None


def _first_reason(unaudited: list[dict[str, Any]]) -> str:
    return unaudited[0]["skip_reason"] if unaudited else "no packages"


def npm_audit(skip: set[str]) -> tuple[list[str], str | None]:
    web = ROOT / "web"
    if not (web / "package-lock.json").is_file():
        return [], "web/package-lock.json is missing"
    done = run(["npm", "audit", "--omit=dev", "--json"], web)
    if done is None:
        return [], "npm did not run"
    try:
        report = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        return [], f"npm audit gave no report: {done.stderr.strip()[-200:]}"
    return npm_findings(report, skip, done.stderr)


def npm_findings(report: dict[str, Any], skip: set[str], stderr: str = "") -> tuple[list[str], str | None]:
    """`npm audit --json`'s report → unignored advisories; an error answer is "unavailable"."""
    if "vulnerabilities" not in report:
        return [], f"the advisory endpoint answered: {report.get('message') or stderr.strip()[-200:]}"
    findings = []
    for name, entry in report["vulnerabilities"].items():
        for via in entry.get("via", []):
            advisory = re.search(r"GHSA-[\w-]+", via.get("url", "")) if isinstance(via, dict) else None
            if advisory and advisory.group(0) not in skip:
                findings.append(f"{name} {via.get('range', '')}: {advisory.group(0)} {via.get('title', '')}")
    return findings, None


def main() -> int:
    strict = "--strict" in sys.argv
    skip, failed = ignored(), False
    for label, audit in (("Python (requirements.lock)", python_audit), ("web UI (npm, runtime)", npm_audit)):
        print(f"audit: {label}")
        findings, unavailable = audit(skip)
        if unavailable:
            print(f"  SKIPPED, advisory service unavailable: {unavailable}")
            failed |= strict
        for finding in findings:
            print(f"  VULNERABLE {finding}")
        if not findings and not unavailable:
            print("  no known vulnerabilities (outside audit-ignore.txt)")
        failed |= bool(findings)
    if failed:
        print("audit failed: upgrade the package, or list the advisory in audit-ignore.txt with a reason")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
