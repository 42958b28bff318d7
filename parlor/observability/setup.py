"""The composition root's handle on observability: built before the app (the root decides from Settings
whether to trace), started once the database engine and Redis client exist, closed last."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace

from parlor.observability.metrics import Metrics, Pricer, watch_pool
from parlor.observability.tracing import enabled

log = logging.getLogger(__name__)


@dataclass
class Telemetry:
    metrics: Metrics
    tracing: bool = False  # spans are recorded (an SDK tracer provider is installed)
    _instrumented: list[Any] = field(default_factory=list)
    _provider: Any = None  # the tracer provider this Telemetry installed (flushed and shut down at close)

    @classmethod
    def create(cls, tracing: bool, otlp_endpoint: str | None = None, price: Pricer | None = None,
               service_name: str = "parlor", endpoint_from_env: bool = False) -> Telemetry:
        telemetry = cls(Metrics(price))
        if tracing:
            telemetry._provider = install_tracer_provider(otlp_endpoint, service_name, endpoint_from_env)
            telemetry.tracing = enabled()
        return telemetry

    def start(self, engine: Any, redis: Any) -> None:
        """The pool gauges, and the standard instrumentations of SQLAlchemy and Redis (only when tracing:
        off costs nothing)."""
        watch_pool(self.metrics, engine.sync_engine)
        if not self.tracing:
            return
        self._instrumented.append(trace_engine(engine.sync_engine))
        if redis is not None:
            from opentelemetry.instrumentation.redis import RedisInstrumentor

            redis_instrumentor = RedisInstrumentor()
            if not redis_instrumentor.is_instrumented_by_opentelemetry:
                redis_instrumentor.instrument()
                self._instrumented.append(redis_instrumentor)

    def close(self) -> None:
        for instrumentor in self._instrumented:
            try:
                instrumentor.uninstrument()
            except Exception:  # uninstrumenting is best effort: the process is stopping
                log.debug("could not uninstrument %s", type(instrumentor).__name__, exc_info=True)
        self._instrumented.clear()
        if self._provider is not None:
            self._provider.force_flush(5000)
        self.metrics.close()


def trace_engine(sync_engine: Any) -> Any:
    """The SQLAlchemy instrumentation's query spans for this engine. Its `EngineTracer` alone: the
    instrumentor would also patch `Engine.connect` process-wide for a `connect` span per pool checkout,
    about a quarter of a turn's spans for little insight. Returns what `close` uninstruments."""
    try:
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import get_meter

        usage = get_meter("opentelemetry.instrumentation.sqlalchemy").create_up_down_counter(
            "db.client.connections.usage", unit="connections")
        EngineTracer(trace.get_tracer("opentelemetry.instrumentation.sqlalchemy"), sync_engine, usage)  # type: ignore[no-untyped-call]
        return _EngineTracers()
    except (ImportError, TypeError):  # its internals moved: the instrumentor, connect spans and all
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        instrumentor = SQLAlchemyInstrumentor()
        # skip_dep_check: the instrumentation's declared range lags SQLAlchemy's releases (2.1 works)
        instrumentor.instrument(engine=sync_engine, enable_commenter=False, skip_dep_check=True)
        return instrumentor


class _EngineTracers:
    def uninstrument(self) -> None:
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

        EngineTracer.remove_all_event_listeners()  # type: ignore[no-untyped-call]


def install_tracer_provider(otlp_endpoint: str | None, service_name: str, endpoint_from_env: bool = False) -> Any:
    """Installs the process's tracer provider (an OTLP/HTTP exporter in batches when an endpoint is given);
    one that is already installed (a test's in-memory exporter) is kept. Returns the one installed here."""
    if enabled():
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint or endpoint_from_env:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = None  # the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT itself
        if otlp_endpoint:
            endpoint = otlp_endpoint.rstrip("/")
            endpoint += "" if endpoint.endswith("/v1/traces") else "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider
