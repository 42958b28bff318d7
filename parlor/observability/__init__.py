"""Logging, tracing, metrics and run records. Knows nothing of business rules: the turn pipeline,
the agent loop and the router call its small hooks; the composition root builds it from Settings."""

from parlor.observability.logs import configure_logging
from parlor.observability.metrics import Metrics
from parlor.observability.probe import annotate, current_probe
from parlor.observability.records import NullRecorder, RunRecorder, RunStore, TurnOutcome, record_json
from parlor.observability.setup import Telemetry
from parlor.observability.tracing import phase, traced

__all__ = [
    "Metrics", "NullRecorder", "RunRecorder", "RunStore", "Telemetry", "TurnOutcome", "annotate", "configure_logging",
    "current_probe", "phase", "record_json", "traced",
]
