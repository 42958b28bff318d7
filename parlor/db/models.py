"""SQLAlchemy models: the one place the schema is written down (migrations follow it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import uuid_utils
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy import text as sql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    """Time-ordered ids (UUIDv7), so ordering by id follows creation."""
    return str(uuid_utils.uuid7())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tier: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)  # None: never
    name: Mapped[str | None] = mapped_column(String(100), default=None)  # the owner's label for it
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)  # written at most hourly


class Identity(Base):
    """A user's sign-in at an OpenID Connect issuer: (issuer, subject) names one person there."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_identities_issuer_subject"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (Index("ix_threads_user_recent", "user_id", "updated_at", "id"),
                      Index("ix_threads_updated", "updated_at"))  # retention purges by last activity
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    # the experiment arm the thread started with, kept for its life ("": none; NULL: not assigned yet)
    experiment: Mapped[str | None] = mapped_column(String(64), default=None)
    variant: Mapped[str | None] = mapped_column(String(64), default=None)
    model: Mapped[str | None] = mapped_column(String(64), default=None)  # chosen by the user; NULL: the default
    # the assistant the thread started with, kept for its life (no foreign key: the assistant is its owner's,
    # the thread another user's; a deleted one leaves the thread readable, its chat refused)
    assistant_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # Versions and branches: the end of the branch the thread shows and continues (NULL: its newest message).
    # No foreign key: like a summary's cover, a pointer that never blocks deleting messages.
    leaf_id: Mapped[str | None] = mapped_column(String(36), default=None)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("thread_id", "client_id", name="uq_messages_thread_client"),
        Index("ix_messages_thread_order", "thread_id", "created_at", "id"),
        Index("ix_messages_streaming", "created_at", postgresql_where=sql("status = 'streaming'"),
              sqlite_where=sql("status = 'streaming'")),  # the runs under way (crash recovery's query)
        Index("ix_messages_parent", "parent_id", "thread_id"),  # a message's versions (children); the roots
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    client_id: Mapped[str | None] = mapped_column(String(128), default=None)
    role: Mapped[str] = mapped_column(String(16))
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="complete")
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    tokens_in: Mapped[int | None] = mapped_column(Integer, default=None)
    tokens_out: Mapped[int | None] = mapped_column(Integer, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    tokens: Mapped[int | None] = mapped_column(Integer, default=None)  # its size in a prompt, counted once
    # Versions and branches: the message before it on its branch (NULL: a first message). Siblings sharing a
    # parent are the versions of an answer (regenerated) or of a question (edited).
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id", name="fk_messages_parent"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Summary(Base):
    """A thread's rolling summary: everything up to and including one message, folded into text."""

    __tablename__ = "summaries"
    __table_args__ = (
        UniqueConstraint("thread_id", "covers_through_message_id", name="uq_summaries_thread_cover"),
        Index("ix_summaries_thread_latest", "thread_id", "covers_through_at", "covers_through_message_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    covers_through_message_id: Mapped[str] = mapped_column(String(36))
    covers_through_at: Mapped[datetime] = mapped_column()  # that message's created_at
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SummaryLease(Base):
    """Who is summarising a thread right now (one at a time, across processes), until when."""

    __tablename__ = "summary_leases"
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()


class Memory(Base):
    """A short fact about a user that the model saved with the `remember` tool."""

    __tablename__ = "memories"
    __table_args__ = (
        UniqueConstraint("user_id", "text", name="uq_memories_user_text"),
        Index("ix_memories_user_recent", "user_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(500))
    tokens: Mapped[int] = mapped_column(Integer)
    thread_id: Mapped[str | None] = mapped_column(String(128), default=None)  # where it was learnt
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserInstructions(Base):
    """A user's custom instructions: about them, and how they want answers (put in every system prompt)."""

    __tablename__ = "user_instructions"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    about: Mapped[str] = mapped_column(Text, default="")
    style: Mapped[str] = mapped_column(Text, default="")
    tokens: Mapped[int] = mapped_column(Integer, default=0)  # both texts' size in a prompt, counted once
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Usage(Base):
    __tablename__ = "usage"
    __table_args__ = (Index("ix_usage_user_time", "user_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    thread_id: Mapped[str | None] = mapped_column(String(128), default=None)
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Numeric(14, 8, asdecimal=False), default=0.0)
    ttft_ms: Mapped[float | None] = mapped_column(Numeric(12, 3, asdecimal=False), default=None)
    total_ms: Mapped[float | None] = mapped_column(Numeric(12, 3, asdecimal=False), default=None)
    status: Mapped[str] = mapped_column(String(16))
    experiment: Mapped[str | None] = mapped_column(String(64), default=None)
    variant: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """An uploaded file of a user's (their library, or one thread's when `thread_id` is set); its chunks
    and vectors live in the vector store. One per user and content (sha256)."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("user_id", "sha256", name="uq_documents_user_sha256"),
        Index("ix_documents_user_recent", "user_id", "created_at"),
        Index("ix_documents_status", "status"),
        Index("ix_documents_user_thread", "user_id", "thread_id"),
        Index("ix_documents_assistant", "assistant_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    thread_id: Mapped[str | None] = mapped_column(String(128), default=None)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|processing|ready|failed
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)  # 0-100
    error: Mapped[str | None] = mapped_column(Text, default=None)
    pages: Mapped[int | None] = mapped_column(Integer, default=None)
    chunks: Mapped[int | None] = mapped_column(Integer, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # set: the knowledge of this assistant of the user's (searched only in its chats, not in the user's own)
    assistant_id: Mapped[str | None] = mapped_column(String(36), default=None)


class RunRecord(Base):
    """What one chat turn did, written after it ended (the run inspector): phase timings, the providers
    tried, tool calls, tokens, cost, outcome. Its `request_id` ties it to the logs, the trace and `usage`."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_user_time", "user_id", "created_at"),
        Index("ix_runs_status_time", "status", "created_at"),
        Index("ix_runs_time", "created_at"),
        Index("ix_runs_experiment", "experiment", "variant", "ttft_ms"),  # results: percentiles read in order
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    trace_id: Mapped[str | None] = mapped_column(String(32), default=None)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    thread_id: Mapped[str | None] = mapped_column(String(128), default=None)
    status: Mapped[str] = mapped_column(String(16))  # complete|error|aborted
    error: Mapped[str | None] = mapped_column(String(64), default=None)  # the error code
    provider: Mapped[str | None] = mapped_column(String(64), default=None)  # the one that answered
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Numeric(14, 8, asdecimal=False), default=0.0)
    ttft_ms: Mapped[float | None] = mapped_column(Numeric(12, 3, asdecimal=False), default=None)
    total_ms: Mapped[float | None] = mapped_column(Numeric(12, 3, asdecimal=False), default=None)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # phase -> milliseconds
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # providers tried, tools, retrieval
    experiment: Mapped[str | None] = mapped_column(String(64), default=None)
    variant: Mapped[str | None] = mapped_column(String(64), default=None)
    trigger: Mapped[str | None] = mapped_column(String(16), default=None)  # submit | regenerate | edit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Experiment(Base):
    """An A/B test as data (`ExperimentConfig` as JSON): read by every replica every few seconds."""

    __tablename__ = "experiments"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # traffic, audience, description, variants
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    """A user's rating of one of their assistant messages. Keeps the message's request id: a regenerated
    (deleted) answer's thumbs-down still counts against the run that produced it."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_request", "request_id"), Index("ix_feedback_thread", "thread_id"))
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))  # goes with it
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    rating: Mapped[str | None] = mapped_column(String(8), default=None)  # up | down
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Share(Base):
    """A read-only link to one chat as it was when shared: `snapshot` holds the messages then (later
    edits and deletes of the thread do not touch it). The link's token is stored as its SHA-256 only."""

    __tablename__ = "shares"
    __table_args__ = (Index("ix_shares_thread", "thread_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    through_message_id: Mapped[str] = mapped_column(String(36))
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    snapshot: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


# ---- assistants and groups (README "Assistants and groups") ----


class Group(Base):
    """Users an admin put together: an assistant may be shared with it; its tier, if any, is its members'."""

    __tablename__ = "groups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    tier: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupMember(Base):
    __tablename__ = "group_members"
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class Assistant(Base):
    """A user's configured chat: instructions, model, tools, knowledge (documents with its id), who sees it."""

    __tablename__ = "assistants"
    __table_args__ = (Index("ix_assistants_owner", "owner_id", "created_at"),
                      Index("ix_assistants_visibility", "visibility"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(500), default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(200), default=None)  # NULL: the tier's default
    tools: Mapped[list[str] | None] = mapped_column(JSON, default=None)  # NULL: all the server offers
    approval_tools: Mapped[list[str]] = mapped_column(JSON, default=list)
    starters: Mapped[list[str]] = mapped_column(JSON, default=list)
    avatar: Mapped[str] = mapped_column(String(16), default="")
    color: Mapped[str] = mapped_column(String(7), default="")
    visibility: Mapped[str] = mapped_column(String(16), default="private")  # private | public | groups
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssistantGroup(Base):
    """The groups an assistant with visibility `groups` is shared with."""

    __tablename__ = "assistant_groups"
    assistant_id: Mapped[str] = mapped_column(ForeignKey("assistants.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True)
