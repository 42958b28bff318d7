"""A turn's first step, planning: read the thread (the one query before the model call), decide what to
run (a new answer, a regenerated one, an edit, or the replay of an answer already stored), build the
prompt within the token budget, pick the experiment arm, and hold the tokens against the daily budget."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from parlor.accounts import Principal
from parlor.agent.approval import Resumption
from parlor.assistants.types import TurnAssistant
from parlor.attachments import AttachmentStore, Upload
from parlor.chat.approvals import ApprovalAnswer, find_paused
from parlor.chat.catalog import ImagesUnreadable, ModelCatalog
from parlor.db import utcnow
from parlor.experiments import NO_ARM, Arm, ExperimentBook
from parlor.limits import Reservation, TokenBudget, estimate_tokens
from parlor.llm import LLMMessage
from parlor.memory import Context, ConversationMemory, ThreadWindow
from parlor.memory.store import TITLE_CHARS
from parlor.messages import FilePart, MessageStatus, Parts, StoredMessage
from parlor.observability import phase


@dataclass(frozen=True, slots=True)
class TurnRequest:
    principal: Principal
    thread_id: str
    client_message_id: str
    text: str
    request_id: str
    files: tuple[Upload, ...] = ()  # the message's new images and PDFs, checked (parlor/attachments/intake.py)
    kept_files: tuple[str, ...] = ()  # an edited message's stored files (their URLs) that it keeps
    regenerate: bool = False
    edit: bool = False  # the client replaced its message `client_message_id` (edit and resend)
    requests_left: dict[str, int] = field(default_factory=dict)  # per request window, as admitted
    model: str | None = None  # the model the user chose (kept for the thread); None: the thread's own
    approvals: tuple[ApprovalAnswer, ...] = ()  # the user's answers to the last answer's approvals: resume it
    assistant: str | None = None  # the assistant the chat is with (a thread keeps the first it got)

    @property
    def trigger(self) -> str:
        return "regenerate" if self.regenerate else "edit" if self.edit else "submit"

    @property
    def title(self) -> str:
        """What names a new thread: the text, or the first attachment's name for a message without any."""
        if self.text or not self.files:
            return self.text[:TITLE_CHARS]
        return (self.files[0].filename or "Image")[:TITLE_CHARS]


@dataclass(frozen=True, slots=True)
class Turn:
    """A turn ready to run: either a new generation, or the replay of one already stored."""

    request: TurnRequest
    history: list[LLMMessage]
    save_user_message: bool
    replaces: tuple[str, ...] = ()  # answers lost with their replica, answered again in their place (deleted)
    parent_id: str | None = None  # where its first new message hangs in the thread's tree (None: a root)
    replay: StoredMessage | None = None
    reservation: Reservation | None = None  # tokens held against the user's daily budget
    context: Context | None = None  # how the prompt was built (for the summary check after the turn)
    user_tokens: int | None = None  # the new user message's size, stored with it
    arm: Arm = NO_ARM  # the experiment arm it runs in (chosen from the replica's copy: no I/O)
    retitle_from: str | None = None  # an edited first message: the title it gave the thread, to replace
    model: str | None = None  # the provider tried first (the rest of the chain stays the fallback)
    user_parts: Parts = ()  # the new user message's parts (its text and stored files)
    resume: Resumption | None = None  # the approvals answered: the paused answer goes on (chat/approvals.py)
    continues: StoredMessage | None = None  # ...that answer, which this turn streams into
    replay_after: frozenset[str] = frozenset()  # a replay of only what answering these approvals added
    assistant: TurnAssistant | None = None  # the thread's assistant: instructions, model, tools, knowledge
    approval_tools: frozenset[str] = frozenset()  # tools that wait for the user's approval in this turn

    @property
    def prompt_tokens(self) -> int:
        """The context's own count (stored per message) when there is one; a rough estimate otherwise."""
        if self.context is not None:
            return self.context.tokens
        return estimate_tokens(m.content for m in self.history)


class AssistantSource(Protocol):
    async def for_turn(self, who: Principal, assistant_id: str) -> TurnAssistant:
        """Raises AssistantUnavailable when the user may not (or no longer) see it."""


def _lost(answer: StoredMessage) -> bool:
    return answer.status is MessageStatus.STREAMING or answer.meta.get("error") == "run_lost"


def _unchanged(question: StoredMessage, request: TurnRequest) -> bool:
    """An "edit" that changes nothing: the question asked again as it is (Retry), not a new version."""
    files = {p.url for p in question.parts if isinstance(p, FilePart)}
    return question.text == request.text and not request.files and files == set(request.kept_files)


class TurnPlanner:
    def __init__(self, memory: ConversationMemory, budget: TokenBudget, experiments: ExperimentBook,
                 models: ModelCatalog, attachments: AttachmentStore | None = None, sees_images: bool = False,
                 assistants: AssistantSource | None = None):
        """`attachments`: where messages' images and PDFs are kept (None: messages carry none);
        `sees_images`: whether any configured model reads them; `assistants`: the chats' assistants."""
        self._memory = memory
        self._budget = budget
        self._experiments = experiments
        self._models = models
        self._attachments = attachments
        self._sees_images = sees_images
        self._assistants = assistants

    async def plan(self, request: TurnRequest) -> Turn:
        """The turn to run, its tokens held, its files stored and read. Raises ThreadNotFound for someone
        else's thread, BudgetExhausted, ImagesUnreadable, AssistantUnavailable (all before anything is stored
        or sent), AttachmentsUnavailable."""
        if (request.files or request.kept_files) and not (self._sees_images and self._attachments is not None):
            raise ImagesUnreadable()
        with phase("context"):
            turn = await self.prepare(request)
        if turn.replay is not None:
            return turn
        with phase("reserve"):  # no database round trip
            turn = replace(turn, reservation=await self._budget.reserve(request.principal, turn.prompt_tokens))
        try:
            return await self._with_files(request, turn)
        except BaseException:
            await self.release(turn)
            raise

    async def release(self, turn: Turn) -> None:
        """Gives back what a turn that will not run holds."""
        await self._budget.release(turn.reservation)

    async def prepare(self, request: TurnRequest) -> Turn:
        """Reads the thread (raising ThreadNotFound for someone else's) and decides what to run. A model
        the request names is checked first (raising UnknownModel, ModelNotAllowed, or ImagesUnreadable when
        it cannot see the message's images): before any work."""
        if request.model is not None:
            chosen = self._models.choose(request.principal.tier, request.model)
            if request.files and not chosen.capabilities.vision:
                raise ImagesUnreadable()  # the user chose a model that cannot see them: no silent switch
            request = replace(request, model=chosen.id)
        window = await self._memory.read(request.principal.id, request.thread_id)  # the one query
        assistant = await self._assistant(request, window.assistant_id)
        recent = window.recent
        if request.approvals:
            return self._resume(request, window, assistant)
        leaf = recent[-1] if recent else None
        if request.regenerate:  # a new version of the last answer, beside it (its question's child)
            if leaf is not None and leaf.role == "assistant":
                return self._turn(request, window, recent[:-1], save_user_message=False, parent=leaf.parent_id,
                                  assistant=assistant)
            return self._turn(request, window, recent, save_user_message=False, parent=leaf.id if leaf else None,
                              assistant=assistant)
        for index, message in enumerate(recent):
            # a message's client id, or its stored id (what a reloaded thread's messages carry)
            matches = message.role == "user" and request.client_message_id in (message.client_id, message.id)
            if matches and request.edit and _unchanged(message, request):
                # Asked again: a new answer under it; an empty one (stopped before it began) or one lost
                # with its replica gives way to it, any other stays as a version.
                after = recent[index + 1] if index + 1 < len(recent) else None
                empty = after is not None and after.role == "assistant" and (_lost(after) or not after.text.strip())
                dead = (after.id,) if after is not None and empty else ()
                return self._turn(request, window, recent[:index + 1], save_user_message=False, replaces=dead,
                                  parent=message.id, assistant=assistant)
            if matches and request.edit:
                # Edit and resend: a new version of the question beside it, a new branch (the old one is kept).
                kept = tuple(p for p in message.parts if isinstance(p, FilePart) and p.url in request.kept_files)
                pending = self._pending(request, kept)
                turn = self._turn(request, window, [*recent[:index], pending], save_user_message=True,
                                  parent=message.parent_id, pending=pending, assistant=assistant)
                first = index == 0 and not window.capped  # then the thread's title came from it
                return replace(turn, retitle_from=message.text[:TITLE_CHARS]) if first else turn
            if matches:
                answer = next((m for m in recent[index + 1:] if m.role == "assistant"), None)
                if answer is not None and not _lost(answer):
                    return Turn(request, [], save_user_message=False, replay=answer)  # a retried POST: resend
                # no answer yet, or one whose run died with its replica (SIGKILL, OOM): still `streaming`
                # although this turn holds the thread, or already ended as lost: answered again, in its place
                dead = (answer.id,) if answer is not None else ()
                return self._turn(request, window, recent[:index + 1], save_user_message=False, replaces=dead,
                                  parent=message.id, assistant=assistant)
        pending = self._pending(request)
        return self._turn(request, window, [*recent, pending], save_user_message=True, pending=pending,
                          parent=leaf.id if leaf else None, assistant=assistant)

    async def _assistant(self, request: TurnRequest, kept: str | None) -> TurnAssistant | None:
        """The thread's assistant (the first one it got wins), checked: one the user may no longer see
        refuses the turn (AssistantUnavailable) rather than answer without its instructions."""
        assistant_id = kept or request.assistant
        if assistant_id is None or self._assistants is None:
            return None
        return await self._assistants.for_turn(request.principal, assistant_id)

    def _resume(self, request: TurnRequest, window: ThreadWindow, assistant: TurnAssistant | None) -> Turn:
        """The paused answer goes on from the user's approvals (raises ApprovalProblem when they do not fit);
        approvals answered already are a retried request: what their answer added is replayed."""
        paused = find_paused(window.recent, request.approvals, utcnow())
        if paused.resumption is None:
            answered = frozenset(a.approval_id for a in request.approvals)
            return Turn(request, [], save_user_message=False, replay=paused.message, replay_after=answered)
        turn = self._turn(request, window, window.recent[:paused.index], save_user_message=False,
                          assistant=assistant)
        return replace(turn, resume=paused.resumption, continues=paused.message)

    def _pending(self, request: TurnRequest, kept: tuple[FilePart, ...] = ()) -> StoredMessage:
        """The new user message: the stored files it keeps (an edit's, as stored: their sizes are ours, not
        the client's), then its new files, named (stored once the turn's tokens are held)."""
        files: tuple[FilePart, ...] = ()
        if request.files and self._attachments is not None:
            files = self._attachments.named(request.thread_id, request.files)
        return self._memory.user_message(request.client_message_id, request.text, kept + files)

    async def _with_files(self, request: TurnRequest, turn: Turn) -> Turn:
        """The new message's files stored, and the prompt's images and PDFs read back to send."""
        if self._attachments is None or not any(m.files for m in turn.history):
            return turn
        if request.files and turn.save_user_message:  # the new files are the message's last parts
            named = [p for p in turn.user_parts if isinstance(p, FilePart)][-len(request.files):]
            await self._attachments.write(request.principal.id, named, request.files)
        return replace(turn, history=await self._attachments.load(request.principal.id, turn.history))

    def _turn(self, request: TurnRequest, window: ThreadWindow, history: list[StoredMessage],
              save_user_message: bool, replaces: tuple[str, ...] = (), pending: StoredMessage | None = None,
              parent: str | None = None, assistant: TurnAssistant | None = None) -> Turn:
        """The prompt within the token budget: system prompt (then the assistant's instructions), saved
        facts, summary, recent window."""
        arm = self._experiments.arm(request.principal, window.arm)
        overrides = arm.overrides
        context = self._memory.context(window, history, overrides.system_prompt, overrides.context_tokens,
                                       instructions=assistant.instructions if assistant else "")
        return Turn(request, context.messages, save_user_message, replaces, parent, context=context, arm=arm,
                    user_tokens=pending.tokens if pending else None, user_parts=pending.parts if pending else (),
                    model=self._first(request, window, overrides.provider, assistant), assistant=assistant,
                    approval_tools=assistant.approval_tools if assistant else frozenset())

    def _first(self, request: TurnRequest, window: ThreadWindow, experiment: str | None,
               assistant: TurnAssistant | None = None) -> str | None:
        """The provider tried first: the model chosen now, else the thread's (while still allowed), else
        the assistant's (while the user's tier allows it), else the experiment arm's, else the tier's default."""
        tier = request.principal.tier
        if request.model is not None:
            return request.model
        if (kept := self._models.usable(tier, window.model)) is not None:
            return kept.id
        if assistant is not None and (its := self._models.usable(tier, assistant.model)) is not None:
            return its.id
        if experiment is not None:
            return experiment
        default = self._models.default(tier)
        return default.id if default is not None else None
