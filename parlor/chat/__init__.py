"""The turn pipeline (plan, run, record; attach and stop), its events and runs, and the `/v1` gateway.
No wire format: the codecs live at the edge (parlor/api/wire/)."""

from parlor.chat.catalog import ImagesUnreadable, ModelCatalog, ModelEntry, UnknownModel
from parlor.chat.events import ChatEvent
from parlor.chat.gateway import Gateway, GatewayRequest
from parlor.chat.plan import Turn, TurnPlanner, TurnRequest
from parlor.chat.record import TurnRecorder
from parlor.chat.runs import Run, RunRegistry, ThreadBusy
from parlor.chat.service import ChatService, TurnStream
from parlor.chat.turn import TurnRunner

__all__ = [
    "ChatEvent", "ChatService", "Gateway", "GatewayRequest", "ImagesUnreadable", "ModelCatalog", "ModelEntry", "Run",
    "RunRegistry", "ThreadBusy", "Turn", "TurnPlanner", "TurnRecorder", "TurnRequest", "TurnRunner", "TurnStream",
    "UnknownModel",
]
