"""Buffered randomness: well-formed, never handed out twice, fresh in a forked child."""

from __future__ import annotations

import os
import uuid

from shared import ids


def test_ids_are_version_4_uuids_and_distinct() -> None:
    made = [ids.new_id() for _ in range(5_000)]  # several refills of the buffer
    assert len(set(made)) == len(made)
    for text in made[:100]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_bytes_are_never_handed_out_twice() -> None:
    chunks = [ids.random_bytes(12) for _ in range(2_000)]  # 12 does not divide 4096
    assert len(set(chunks)) == len(chunks)
    assert all(len(c) == 12 for c in chunks)
    assert len(ids.random_bytes(10_000)) == 10_000  # larger than the buffer: direct


def test_a_forked_child_does_not_repeat_the_parents_bytes() -> None:
    ids.random_bytes(1)  # the buffer holds bytes the child must not reuse
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next bytes and leave at once
        os.write(write, ids.random_bytes(32))
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 32)
    os.close(read)
    assert child != ids.random_bytes(32)
