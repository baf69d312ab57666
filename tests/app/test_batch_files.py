"""The compute workers' memory files of a batch (app/services/batch_part.py _write, batch_split.py): a worker writes
its answers into a kept shared mapping of the server's file (in place, mapped again only where it must, at most
_MAPPED_MAX mappings, a file past _MAP_BYTES written and not kept mapped). With real memory files, and on a real
server with a real pool: answers byte for byte the separate requests' over batches of growing sizes, three at
once and a batch whose rest the worker cannot take; afterwards the server holds no more memory files than it
keeps, and maps none it has closed."""
from __future__ import annotations

import os
import random
import threading

import orjson
import pytest

from app.services import batch_part as bp
from app.services import batch_split as bs
from tests.app.conftest import TEST_KEY, Server
from tests.app.test_batch_vectorized import OTHERS, separately
from tests.engine.test_batch_vectorized import SEED, docs_of

pytestmark = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memory files are Linux's")


def _file(data: bytes) -> int:
    fd = os.memfd_create("gradserve-batch-test", os.MFD_CLOEXEC)
    os.pwrite(fd, data, 0)
    return fd


def test_a_worker_writes_its_answers_in_place_into_a_kept_mapping():
    fds = [_file(b"t" * 100) for _ in range(3)]  # (the server's text in the first: written over)
    paths = [f"/proc/{os.getpid()}/fd/{fd}" for fd in fds]
    try:
        bp._write(paths[0], b"1" * 5000)  # past the file's size: it grows
        assert os.pread(fds[0], 6000, 0) == b"1" * 5000
        mapped = bp._MAPPED[paths[0]]
        bp._write(paths[0], b"2" * 3000)  # the same mapping, written in place
        assert bp._MAPPED[paths[0]] is mapped and os.pread(fds[0], 6000, 0) == b"2" * 3000 + b"1" * 2000
        bp._write(paths[0], b"3" * 7000)  # grown past it: mapped again
        assert bp._MAPPED[paths[0]] is not mapped and os.pread(fds[0], 8000, 0) == b"3" * 7000
        for path in paths[1:]:
            bp._write(path, b"4" * 10)
        assert len(bp._MAPPED) <= bp._MAPPED_MAX and paths[2] in bp._MAPPED  # the oldest mapping dropped
        big = b"5" * (bp._MAP_BYTES + 1)  # written, not kept mapped (its pages would outlive the server's file)
        bp._write(paths[1], big)
        assert os.pread(fds[1], len(big) + 1, 0) == big and paths[1] not in bp._MAPPED
        os.close(fds[2])
        fds[2] = _file(b"")  # (likely the same number: another file at the same path)
        bp._write(paths[2], b"6" * 20)
        assert os.pread(fds[2], 100, 0) == b"6" * 20
    finally:
        for fd in fds:
            os.close(fd)
        while bp._MAPPED:
            bp._MAPPED.popitem()[1][1].close()


def _memory_files(pid: int) -> tuple[set, set]:
    """The inodes of the server's open memory files of batches, and of those it maps."""
    fds, maps = set(), set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "memfd:gradserve-batch" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                fds.add(os.stat(f"/proc/{pid}/fd/{fd}").st_ino)
        except OSError:
            pass
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            if "memfd:gradserve-batch" in line:
                maps.add(int(line.split()[4]))
    return fds, maps


def _post(s, docs) -> tuple[int, bytes]:
    r = s.client.post("/v1/evaluate/batch", content=orjson.dumps({"requests": docs}),
                      headers={"content-type": "application/json"})
    return r.status_code, r.content


def test_a_pooled_server_answers_in_place_and_keeps_only_its_files():
    s = Server({"GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_COMPUTE_WORKERS": "2"}, api_key=TEST_KEY)
    try:
        rng = random.Random(11)
        bodies = [docs_of(SEED, n, rng) for n in (600, 800, 1000, 1000)]  # the files grow from batch to batch
        mixed = bodies[3][:700] + [OTHERS[0]] + bodies[3][700:999]  # a rest the worker cannot take: read again here
        for _ in range(3):
            assert _post(s, bodies[0])[0] == 200  # the structure recorded, lowered, its template made
        expected = [separately(s.client, docs) for docs in bodies + [mixed]]
        for k, docs in enumerate(bodies + [mixed] + bodies):
            assert _post(s, docs) == (200, expected[k % 5]), f"batch {k}"
        out: dict = {}

        def send(k):
            out[k] = [_post(s, bodies[k]) for _ in range(3)]

        threads = [threading.Thread(target=send, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        for k in range(3):
            assert out[k] == [(200, expected[k])] * 3, f"client {k}"
        fds, maps = _memory_files(s.proc.pid)
        assert 1 <= len(fds) <= 2 * bs._SPARE_MAX  # the kept ones: none left behind by a batch
        assert maps <= fds  # (the server reads the answers with preadv: it maps none)
    finally:
        s.stop()
