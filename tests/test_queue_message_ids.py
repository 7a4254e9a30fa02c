"""Message ids: 32 lowercase hex characters, never repeated, not even across a fork."""

from __future__ import annotations

import os
import re

import pytest

from workerlab.queues.message_ids import POOL_IDS, new_message_id, new_message_ids

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_ids_are_32_lowercase_hex_characters_and_distinct_across_several_draws() -> None:
    ids = [new_message_id() for _ in range(3 * POOL_IDS + 1)] + new_message_ids(5)
    assert all(HEX_ID.fullmatch(message_id) for message_id in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_hands_out_the_ids_its_parent_holds() -> None:
    new_message_id()  # the parent now holds ids not yet handed out
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write_end, new_message_id().encode())
        os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    parent_ids = {new_message_id() for _ in range(POOL_IDS)}
    assert HEX_ID.fullmatch(child_id)
    assert child_id not in parent_ids
