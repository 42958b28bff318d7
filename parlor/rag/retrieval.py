"""Hybrid retrieval (vector + keyword, fused by reciprocal rank), and the `search_knowledge_base`
tool that hands the model numbered passages with document names and pages, and the client citations."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from parlor.agent.tools import Cited, Tool, ToolContext, ToolError, pydantic_tool
from parlor.assistants.types import knowledge_owner
from parlor.llm.types import ToolHint
from parlor.messages import SourcePart
from parlor.observability import phase
from parlor.observability.probe import note_retrieval
from parlor.rag.embed import Embedder
from parlor.rag.repo import DocumentRepo, named
from parlor.rag.store import Hit, Scope, VectorStore, fuse

CANDIDATES = 25  # per ranking, before fusion
TOOL_NAME = "search_knowledge_base"


class Retriever:
    def __init__(self, embedder: Embedder, store: VectorStore, candidates: int = CANDIDATES):
        self._embedder = embedder
        self._store = store
        self._candidates = candidates

    async def search(self, scope: Scope, query: str, k: int, *more: Scope) -> list[Hit]:
        """The best `k` passages for `query` in `scope` and any `more` scopes (an assistant's documents)."""
        with phase("retrieval", **{"parlor.retrieval.top_k": k}) as span:  # a span; its time in the run record
            vector = (await self._embedder.embed([query]))[0]
            n = max(k, self._candidates)
            rankings = await asyncio.gather(*(search for each in (scope, *more) for search in (
                self._store.vector_search(each, vector, n), self._store.text_search(each, query, n))))
            hits = fuse(rankings, k)
            span.set_attribute("parlor.retrieval.hits", len(hits))
            return hits


# A question about documents, or any message of a thread with one attached (for the bundled local models)
SEARCH_HINT = ToolHint(r"\b(?:documents?|files?|pdf|handbook|manual|report|notes|contract|upload\w*|attached|"
                       r"according to|search\w*)\b", anywhere=True,
                       examples=(("What does my contract say about notice periods?", {"query": "notice period"}),))


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a user id the model made up is ignored: the caller is the context's

    query: str = Field(min_length=1, max_length=1000,
                       description="What to look for, in the words the documents would use.")
    top_k: int = Field(default=5, ge=1, le=20, description="How many passages to return.")


def knowledge_tool(retriever: Retriever, repo: DocumentRepo, timeout: float) -> Tool:
    async def run(context: ToolContext, args: SearchArgs) -> Cited:
        scope = Scope(context.principal.id, context.thread_id)
        # a chat with an assistant searches its documents too (whoever owns them: the turn checked the user sees it)
        its = (Scope(knowledge_owner(context.assistant_id)),) if context.assistant_id else ()
        hits = await retriever.search(scope, args.query, args.top_k, *its)
        documents = await named(repo, context.principal.id, [h.document_id for h in hits], context.assistant_id)
        hits = [h for h in hits if h.document_id in documents]
        if not hits:
            mine = await repo.list(context.principal.id, context.thread_id, limit=1)
            if context.assistant_id and not mine:
                mine = await repo.list(context.principal.id, assistant_id=context.assistant_id, limit=1)
            if not mine:
                raise ToolError("the user has no documents yet; they can upload some first")
            return Cited({"query": args.query, "results": [], "note": "nothing relevant was found"}, ())
        results: list[dict[str, Any]] = []
        sources: list[SourcePart] = []
        for number, hit in enumerate(hits, start=1):
            note_retrieval(f"{hit.document_id}:{hit.ordinal}", hit.score)  # shown in the turn's run record
            document = documents[hit.document_id]
            where = f", p. {hit.page}" if hit.page is not None else ""  # the citation chip's title
            results.append({"source": number, "document": document.filename, "page": hit.page, "text": hit.text})
            sources.append(SourcePart(f"{hit.document_id}:{hit.ordinal}", document.content_type,
                                      f"{document.filename}{where}", document.filename,
                                      {"documentId": hit.document_id, "page": hit.page, "chunk": hit.ordinal}))
        return Cited({"query": args.query, "results": results,
                      "how_to_cite": "Cite the passages you use as [document, page N]."}, tuple(sources))

    return pydantic_tool(
        TOOL_NAME,
        "Search the user's uploaded documents (their knowledge base) for passages relevant to a question. "
        "Use it when the user asks about the content of their documents or files; not for small talk. "
        "Returns numbered passages with the document name and page; cite them in the answer.",
        SearchArgs, run, timeout, title="Knowledge base", hint=SEARCH_HINT)
