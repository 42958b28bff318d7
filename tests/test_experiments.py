"""Assignment: a stable hash of (experiment, user id), the same in every process; fair to the weights
over 10,000 simulated users; the audience and traffic respected; a thread keeps the arm it started with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from parlor.accounts import Principal
from parlor.config import ExperimentConfig
from parlor.experiments import ExperimentBook, InvalidExperiment, bucket, check, pick

USERS = [str(uuid.UUID(int=n * 7919 + 12345)) for n in range(10_000)]
# chi-square critical values at p = 0.001 by degrees of freedom: a fair split fails 1 run in 1000
CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47}


def experiment(**fields: Any) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": "exp", "variants": [{"name": "a"}], **fields})


def chi_square(observed: Counter[str | None], expected: Mapping[str | None, float]) -> float:
    return sum((observed[k] - e) ** 2 / e for k, e in expected.items())


def test_the_bucket_is_the_same_in_another_process() -> None:
    users = USERS[:200]
    code = ("import json, sys; from parlor.experiments import bucket; "
            "print(json.dumps([bucket('exp', u) for u in json.load(sys.stdin)]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a different str hash: it must not matter
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(users), capture_output=True, text=True,
                         env=env, check=True).stdout
    assert json.loads(out) == [bucket("exp", u) for u in users]
    assert len(set(json.loads(out))) == len(users) and all(0 <= b < 1 for b in json.loads(out))


def test_the_split_matches_the_weights_over_10000_users() -> None:
    config = experiment(variants=[{"name": "a", "weight": 1}, {"name": "b", "weight": 2}, {"name": "c", "weight": 7}])
    observed = Counter(v.name if (v := pick(config, u, "free")) else None for u in USERS)
    expected: dict[str | None, float] = {"a": 1000.0, "b": 2000.0, "c": 7000.0}
    assert set(observed) == set(expected)
    assert chi_square(observed, expected) < CHI2_999[2]


def test_traffic_takes_its_share_and_splits_it_by_weight() -> None:
    config = experiment(traffic=0.2, audience=["free"], variants=[{"name": "a"}, {"name": "b"}])
    observed = Counter(v.name if (v := pick(config, u, "free")) else None for u in USERS)
    assert chi_square(observed, {None: 8000.0, "a": 1000.0, "b": 1000.0}) < CHI2_999[2]
    assert all(pick(config, u, "pro") is None for u in USERS[:500])  # not in the audience
    assert all(pick(config.model_copy(update={"enabled": False}), u, "free") is None for u in USERS[:500])


def test_raising_the_traffic_keeps_everyone_already_in() -> None:
    small = experiment(traffic=0.2, variants=[{"name": "a"}, {"name": "b"}])
    large = small.model_copy(update={"traffic": 0.5})
    before = {u: v.name for u in USERS if (v := pick(small, u, "free"))}
    after = {u: v.name for u in before if (v := pick(large, u, "free"))}
    assert before and after == before


def test_a_zero_weight_variant_gets_nobody() -> None:
    config = experiment(variants=[{"name": "a", "weight": 0}, {"name": "b"}, {"name": "c", "weight": 0}])
    assert {v.name for u in USERS[:2000] if (v := pick(config, u, "free"))} == {"b"}


def book(*configs: ExperimentConfig) -> ExperimentBook:
    found = ExperimentBook(store=None, refresh_seconds=1)  # type: ignore[arg-type]
    found.load(configs)
    return found


def test_a_thread_keeps_its_variant_after_a_weight_change() -> None:
    who = Principal(USERS[0], "u", "free", "user")
    before = book(experiment(variants=[{"name": "a", "system_prompt": "A"}, {"name": "b", "weight": 0}]))
    first = before.arm(who, None)  # a new thread
    assert (first.experiment, first.variant, first.assign, first.overrides.system_prompt) == ("exp", "a", True, "A")
    after = book(experiment(variants=[{"name": "a", "weight": 0, "system_prompt": "A"}, {"name": "b"}]))
    kept = after.arm(who, first.stored())  # the same thread, next turn
    assert (kept.variant, kept.assign, kept.overrides.system_prompt) == ("a", False, "A")
    assert after.arm(who, None).variant == "b"  # a new thread follows the new weights
    assert after.arm(who, ("", None)).experiment is None  # started outside every experiment: stays so
    off = book(experiment(enabled=False, variants=[{"name": "a", "system_prompt": "A"}]))
    assert off.arm(who, first.stored()).experiment is None  # experiment off: as usual


def test_experiments_are_offered_by_name_and_one_thread_is_in_one_at_most() -> None:
    who = Principal(USERS[1], "u", "free", "user")
    both = book(experiment(name="b-second"), experiment(name="a-first", audience=["pro"]))
    assert both.arm(who, None).experiment == "b-second"  # a-first is for pro users only
    pro = Principal(USERS[1], "u", "pro", "user")
    assert both.arm(pro, None).experiment == "a-first"


@pytest.mark.parametrize(("fields", "error"), [
    ({"variants": [{"name": "a", "weight": 0}]}, "more than 0"),
    ({"variants": [{"name": "a"}, {"name": "a"}]}, "distinct"),
    ({"variants": [{"name": "none"}]}, "reserved"),
    ({"variants": []}, "at least 1"),
    ({"traffic": -0.1}, "greater than or equal"),
    ({"variants": [{"name": "a", "temperature": 3}]}, "less than or equal"),
])
def test_invalid_experiments_are_refused(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        experiment(**fields)


def test_an_experiment_may_name_only_what_the_deployment_has() -> None:
    ok = experiment(audience=["free"], variants=[{"name": "a", "provider": "up", "tools": ["calculator"]}])
    check(ok, {"up"}, {"calculator"}, {"free"})
    with pytest.raises(InvalidExperiment, match="no provider 'up'"):
        check(ok, {"other"}, {"calculator"}, {"free"})
    with pytest.raises(InvalidExperiment, match="no tool 'calculator'"):
        check(ok, {"up"}, set(), {"free"})
    with pytest.raises(InvalidExperiment, match="no tier 'free'"):
        check(ok, {"up"}, {"calculator"}, {"pro"})
