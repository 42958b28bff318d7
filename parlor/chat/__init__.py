"""The turn pipeline, its events, runs, and the wire encoders."""

from parlor.chat.events import ChatEvent
from parlor.chat.gateway import Gateway, GatewayRequest, UnknownModel
from parlor.chat.runs import Run, RunRegistry, ThreadBusy
from parlor.chat.service import ChatService, Turn, TurnRequest

__all__ = [
    "ChatEvent", "ChatService", "Gateway", "GatewayRequest", "Run", "RunRegistry", "ThreadBusy", "Turn",
    "TurnRequest", "UnknownModel",
]
