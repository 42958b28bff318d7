"""deploy/prometheus/alerts.yml: valid rules (promtool, when installed), passing their unit tests, and
naming only metrics Parlor exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics_core import Metric

from parlor.observability.metrics import Metrics

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"
PROMETHEUS_OWN = {"up"}  # series Prometheus itself makes for every scrape target


def exported() -> set[str]:
    """Every series name Parlor's registry can expose (counters' _total, histograms' _bucket...)."""
    names: set[str] = set()
    family: Metric
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count", "created")}
        else:
            names.add(family.name)
    return names


def rules() -> list[dict[str, object]]:
    document = yaml.safe_load((RULES / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_rule_names_metrics_parlor_exports() -> None:
    known = exported() | PROMETHEUS_OWN
    found = rules()
    assert {"ParlorTimeToFirstTokenSlow", "ParlorHttpErrorRate", "ParlorCircuitBreakerOpen", "ParlorBudgetBurn",
            "ParlorJobQueueBacklog", "ParlorJobQueueStalled"} <= {str(r["alert"]) for r in found}
    for rule in found:
        expr = str(rule["expr"])
        assert rule.get("labels", {}).get("severity") in ("info", "warning", "critical"), rule["alert"]  # type: ignore[union-attr]
        metrics = set(re.findall(r"\b(parlor_[a-z0-9_]+|up)\b(?=\s*[{\[)]|\s*==)", expr))
        assert metrics, f"{rule['alert']}: no metric found in {expr!r}"
        assert metrics <= known, f"{rule['alert']}: unknown {metrics - known}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian: prometheus)")
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    check = subprocess.run(["promtool", "check", "rules", "alerts.yml"], cwd=RULES, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(["promtool", "test", "rules", "alerts.test.yml"], cwd=RULES, capture_output=True,
                           text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr
