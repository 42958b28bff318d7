"""The composition root: the one place where collaborators are built from Settings and passed to each
other through constructors. `server.py` wires `parlor serve`, `worker.py` wires `parlor worker` and
`parlor ingest`; `parts.py` and `knowledge.py` build the pieces both use."""
