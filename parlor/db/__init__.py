from parlor.db.engine import create_engine, pending_migrations, session_factory, shown_url
from parlor.db.models import (
    ApiKey,
    Base,
    Document,
    Identity,
    Memory,
    Message,
    Summary,
    SummaryLease,
    Thread,
    Usage,
    User,
    UserInstructions,
    new_id,
    utcnow,
)
from parlor.db.retries import with_retries
from parlor.db.schema import migrate

__all__ = [
    "ApiKey", "Base", "Document", "Identity", "Memory", "Message", "Summary", "SummaryLease", "Thread", "Usage", "User",
    "UserInstructions",
    "create_engine", "migrate", "new_id", "pending_migrations", "session_factory", "shown_url", "utcnow",
    "with_retries",
]
