"""Knowledge: parse → chunk → embed → index uploaded documents; hybrid retrieval with citations."""

from parlor.rag.knowledge import Knowledge, KnowledgeUnavailable
from parlor.rag.repo import DocumentRepo, DocumentView
from parlor.rag.service import DocumentService
from parlor.rag.store import ChunkRecord, Hit, Scope, VectorStore

__all__ = ["ChunkRecord", "DocumentRepo", "DocumentService", "DocumentView", "Hit", "Knowledge",
           "KnowledgeUnavailable", "Scope", "VectorStore"]
