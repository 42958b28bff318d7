"""Images and PDFs sent in chat messages: checked and cleaned on the way in (intake.py), kept in the
documents' file store under their owner (store.py), and counted against the token budget by each
provider's own rule (tokens.py)."""

from parlor.attachments.intake import AttachmentLimits, AttachmentRejected, Upload, read_uploads
from parlor.attachments.store import AttachmentStore, AttachmentsUnavailable
from parlor.attachments.tokens import file_tokens

__all__ = ["AttachmentLimits", "AttachmentRejected", "AttachmentStore", "AttachmentsUnavailable", "Upload",
           "file_tokens", "read_uploads"]
