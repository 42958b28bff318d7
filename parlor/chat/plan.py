"""A turn's first step, planning: read the thread (the one query before the model call), decide what to
run (a new answer, a regenerated one, an edit, or the replay of an answer already stored), build the
prompt within the token budget, pick the experiment arm, and hold the tokens against the daily budget."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from parlor.accounts import Principal
from parlor.chat.catalog import ModelCatalog
from parlor.experiments import NO_ARM, Arm, ExperimentBook
from parlor.limits import Reservation, TokenBudget, estimate_tokens
from parlor.llm import LLMMessage
from parlor.memory import Context, ConversationMemory, ThreadWindow
from parlor.messages import MessageStatus, StoredMessage
from parlor.observability import phase

TITLE_CHARS = 80


@dataclass(frozen=True, slots=True)
class TurnRequest:
    principal: Principal
    thread_id: str
    client_message_id: str
    text: str
    request_id: str
    regenerate: bool = False
    edit: bool = False  # the client replaced its message `client_message_id` (edit and resend)
    requests_left: dict[str, int] = field(default_factory=dict)  # per request window, as admitted
    model: str | None = None  # the model the user chose (kept for the thread); None: the thread's own

    @property
    def trigger(self) -> str:
        return "regenerate" if self.regenerate else "edit" if self.edit else "submit"


@dataclass(frozen=True, slots=True)
class Turn:
    """A turn ready to run: either a new generation, or the replay of one already stored."""

    request: TurnRequest
    history: list[LLMMessage]
    save_user_message: bool
    replaces: tuple[str, ...] = ()  # the messages this turn supersedes (deleted when it is saved)
    replay: StoredMessage | None = None
    reservation: Reservation | None = None  # tokens held against the user's daily budget
    context: Context | None = None  # how the prompt was built (for the summary check after the turn)
    user_tokens: int | None = None  # the new user message's size, stored with it
    arm: Arm = NO_ARM  # the experiment arm it runs in (chosen from the replica's copy: no I/O)
    retitle_from: str | None = None  # an edited first message: the title it gave the thread, to replace
    model: str | None = None  # the provider tried first (the rest of the chain stays the fallback)

    @property
    def prompt_tokens(self) -> int:
        """The context's own count (stored per message) when there is one; a rough estimate otherwise."""
        if self.context is not None:
            return self.context.tokens
        return estimate_tokens(m.content for m in self.history)


def _lost(answer: StoredMessage) -> bool:
    return answer.status is MessageStatus.STREAMING or answer.meta.get("error") == "run_lost"


class TurnPlanner:
    def __init__(self, memory: ConversationMemory, budget: TokenBudget, experiments: ExperimentBook,
                 models: ModelCatalog):
        self._memory = memory
        self._budget = budget
        self._experiments = experiments
        self._models = models

    async def plan(self, request: TurnRequest) -> Turn:
        """The turn to run, its tokens held (raises ThreadNotFound for someone else's thread, BudgetExhausted)."""
        with phase("context"):
            turn = await self.prepare(request)
        if turn.replay is not None:
            return turn
        with phase("reserve"):  # no database round trip
            return replace(turn, reservation=await self._budget.reserve(request.principal, turn.prompt_tokens))

    async def release(self, turn: Turn) -> None:
        """Gives back what a turn that will not run holds."""
        await self._budget.release(turn.reservation)

    async def prepare(self, request: TurnRequest) -> Turn:
        """Reads the thread (raising ThreadNotFound for someone else's) and decides what to run. A model
        the request names is checked first (raising UnknownModel, ModelNotAllowed): before any work."""
        if request.model is not None:
            request = replace(request, model=self._models.choose(request.principal.tier, request.model).id)
        window = await self._memory.read(request.principal.id, request.thread_id)  # the one query
        recent = window.recent
        if request.regenerate:
            replaces = (recent[-1].id,) if recent and recent[-1].role == "assistant" else ()
            history = recent[:-1] if replaces else recent
            return self._turn(request, window, history, save_user_message=False, replaces=replaces)
        for index, message in enumerate(recent):
            # a message's client id, or its stored id (what a reloaded thread's messages carry)
            matches = message.role == "user" and request.client_message_id in (message.client_id, message.id)
            if matches and request.edit:
                # Edit and resend: the edited question and everything after it give way to the new one.
                pending = self._memory.user_message(request.client_message_id, request.text)
                turn = self._turn(request, window, [*recent[:index], pending], save_user_message=True,
                                  replaces=tuple(m.id for m in recent[index:]), user_tokens=pending.tokens)
                first = index == 0 and not window.capped  # then the thread's title came from it
                return replace(turn, retitle_from=message.text[:TITLE_CHARS]) if first else turn
            if matches:
                answer = next((m for m in recent[index + 1:] if m.role == "assistant"), None)
                if answer is not None and not _lost(answer):
                    return Turn(request, [], save_user_message=False, replay=answer)  # a retried POST: resend
                # no answer yet, or one whose run died with its replica (SIGKILL, OOM): still `streaming`
                # although this turn holds the thread, or already ended as lost: answered again, in its place
                dead = (answer.id,) if answer is not None else ()
                return self._turn(request, window, recent[:index + 1], save_user_message=False, replaces=dead)
        pending = self._memory.user_message(request.client_message_id, request.text)
        return self._turn(request, window, [*recent, pending], save_user_message=True, user_tokens=pending.tokens)

    def _turn(self, request: TurnRequest, window: ThreadWindow, history: list[StoredMessage],
              save_user_message: bool, replaces: tuple[str, ...] = (), user_tokens: int | None = None) -> Turn:
        """The prompt within the token budget: system prompt, saved facts, summary, recent window."""
        arm = self._experiments.arm(request.principal, window.arm)
        overrides = arm.overrides
        context = self._memory.context(window, history, overrides.system_prompt, overrides.context_tokens)
        return Turn(request, context.messages, save_user_message, replaces, context=context, user_tokens=user_tokens,
                    arm=arm, model=self._first(request, window, overrides.provider))

    def _first(self, request: TurnRequest, window: ThreadWindow, experiment: str | None) -> str | None:
        """The provider tried first: the model chosen now, else the thread's (while still allowed), else
        the experiment arm's, else the tier's default."""
        tier = request.principal.tier
        if request.model is not None:
            return request.model
        if (kept := self._models.usable(tier, window.model)) is not None:
            return kept.id
        if experiment is not None:
            return experiment
        default = self._models.default(tier)
        return default.id if default is not None else None
