"""Small helpers the tests share, one module per concern:

- ``wait``: polling until a condition holds (``wait_for``, async; ``wait_for_sync``, its twin for sync tests).
- ``spans``: an in-memory OpenTelemetry span exporter (``memory_exporter``; the ``exporter`` fixture in conftest).
- ``redis``: the Redis URL the suite uses (``redis_url``, honouring ``PARLOR_TEST_REDIS``) and a Redis server of a
  test's own (``own_redis``).
- ``documents``: uploading a document through the API and following its progress events.
- ``runs``: a turn's run record, once it is written.

Test files are named after what they test: ``test_<package>_<module>.py`` for unit tests of one pure module
(``tests/test_memory_tokens.py`` tests ``parlor/memory/tokens.py``), a feature's name for tests through a server.
"""
