"""The wire formats Parlor speaks, each one codec made from the typed model (parlor/messages.py) and the
chat events (parlor/chat/events.py): the AI SDK UI message stream and its stored UI messages (`ui`),
and OpenAI chat completions with their chunks (`openai`)."""
