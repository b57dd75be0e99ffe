"""Inputs by URL, fetched by the workers of a real Dask cluster of separate processes.

A real S3 API on loopback (moto's server mode) and a plain HTTP server, both
started by this module on 127.0.0.1; a Dask scheduler and worker started as
subprocesses (``dask scheduler``, ``dask worker``) with the AWS endpoint
pointing at moto. The APKs are uploaded to the bucket and read by the workers
from there; the store must equal a local run over the same files. HTTP is
plain ``http://127.0.0.1``: TLS is not exercised here (fsspec hands
``https://`` to the same aiohttp client, which verifies certificates itself).
"""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appaudit.apk.limits import Limits
from appaudit.apk.source import read_input
from appaudit.batch import BatchOptions, Planned, run_batch
from appaudit.errors import InputError
from appaudit.urls import redact
from batch_helpers import content, scans
from conftest import FIXTURES, run_cli

for _module, _why in (
    ("s3fs", "the cloud extra (pip install '.[cloud]')"),
    ("moto.server", "moto's server mode (pip install 'moto[server]')"),
    ("distributed", "Dask distributed (pip install '.[dask]')"),
):
    pytest.importorskip(_module, reason=f"needs {_why}")
if shutil.which("dask") is None:
    pytest.skip("needs the dask command (pip install '.[dask]')", allow_module_level=True)

SRC = Path(__file__).resolve().parent.parent / "src"
BUCKET = "apks"
APKS = sorted(FIXTURES.glob("*.apk"))
CORRUPT = b"PK\x03\x04 this is not a zip archive at all"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """moto's S3 on 127.0.0.1, the AWS variables of this process pointing at it, the fixtures in s3://apks/in/."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {**AWS_ENV, "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        for apk in APKS:
            client.upload_file(str(apk), BUCKET, f"in/{apk.name}")
        client.put_object(Bucket=BUCKET, Key="in/corrupt.apk", Body=CORRUPT)
        yield client
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 (stdlib, in a thread) serving some fixtures, a corrupt APK and a list."""
    root = tmp_path_factory.mktemp("web")
    for apk in APKS[:6]:
        shutil.copy(apk, root / apk.name)
    shutil.copy(FIXTURES / "calllog.apk", root / "calllog.apk")  # served for the scan-by-URL test, not listed
    (root / "corrupt.apk").write_bytes(CORRUPT)
    names = [a.name for a in APKS[:6]]
    (root / "list.txt").write_text("# relative to the list\n" + "\n".join([*names, "corrupt.apk", "gone.apk"]) + "\n")
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def cluster(s3: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and one ``dask worker`` (2 threads) as subprocesses on 127.0.0.1, in an empty folder."""
    import distributed

    home = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    address_file = home / "scheduler.json"
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen(
        ["dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(address_file), *common],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        deadline = time.monotonic() + 30
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert address_file.exists(), "the dask scheduler did not start"
        worker = subprocess.Popen(
            ["dask", "worker", "--scheduler-file", str(address_file), "--host", "127.0.0.1", "--nworkers", "1"]
            + ["--nthreads", "2", "--memory-limit", "0", *common],
            cwd=home,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with distributed.Client(scheduler_file=str(address_file), timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            address = str(client.scheduler.address)
        yield address
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _local_run(tmp_path: Path, names: list[str]) -> Path:
    """A local-executor run over local copies of ``names`` (fixtures, and ``corrupt.apk``)."""
    folder = tmp_path / "local"
    folder.mkdir()
    for name in names:
        if name == "corrupt.apk":
            (folder / name).write_bytes(CORRUPT)
        else:
            shutil.copy(FIXTURES / name, folder / name)
    db = tmp_path / "local.sqlite"
    run_batch([str(folder)], BatchOptions(db=db, workers=2))
    return db


def test_s3_on_dask_workers_equals_a_local_run(s3: Any, cluster: str, tmp_path: Path) -> None:
    listing = tmp_path / "more.txt"  # a local list file mixing a missing object into the prefix
    listing.write_text(f"s3://{BUCKET}/in/nothing-here.apk\n")
    s3.put_object(Bucket=BUCKET, Key="late/vanishes.apk", Body=(FIXTURES / "benign.apk").read_bytes())
    events: list[Any] = []

    def on_event(event: Any) -> None:
        events.append(event)
        if isinstance(event, Planned):  # planned from the listing, gone before a worker reads it
            s3.delete_object(Bucket=BUCKET, Key="late/vanishes.apk")

    db = tmp_path / "cloud.sqlite"
    options = BatchOptions(db=db, executor="dask", scheduler=cluster)
    result = run_batch([f"s3://{BUCKET}/in/", str(listing), f"s3://{BUCKET}/late/"], options, on_event=on_event)

    n = len(APKS) + 1  # and corrupt.apk
    assert events[0] == Planned(inputs=n + 2, to_scan=n + 1, cached=0, duplicates=0, missing=1)
    by_path = {o.path: o for o in result.outcomes}
    assert (
        by_path[f"s3://{BUCKET}/in/nothing-here.apk"].status,
        by_path[f"s3://{BUCKET}/in/nothing-here.apk"].error,
    ) == (
        "missing",
        "no such object",
    )
    vanished = by_path[f"s3://{BUCKET}/late/vanishes.apk"]
    assert (vanished.status, vanished.apk_sha256, vanished.error) == ("error", None, "no such object")
    assert (by_path[f"s3://{BUCKET}/in/corrupt.apk"].status, by_path[f"s3://{BUCKET}/in/corrupt.apk"].error) == (
        "error",
        "not a readable zip archive (no end of central directory record)",
    )
    assert result.summary.by_status == {"ok": len(APKS), "error": 2, "missing": 1}
    local = _local_run(tmp_path, [a.name for a in APKS] + ["corrupt.apk"])
    assert content(db) == content(local)
    assert sorted(scans(db)) == sorted([a.name for a in APKS] + ["corrupt.apk"])
    stored_paths = {r[0] for r in sqlite3.connect(db).execute("SELECT path FROM scans")}
    assert stored_paths == {f"s3://{BUCKET}/in/{a.name}" for a in APKS} | {f"s3://{BUCKET}/in/corrupt.apk"}

    events.clear()  # a re-run plans from the cached (URL, size, ETag) -> sha256: nothing is fetched again
    run_batch([f"s3://{BUCKET}/in/"], options, on_event=events.append)
    assert events == [Planned(inputs=n, to_scan=0, cached=n, duplicates=0, missing=0)]


def test_http_list_on_dask_workers_equals_a_local_run(web: str, cluster: str, tmp_path: Path) -> None:
    db = tmp_path / "web.sqlite"
    result = run_batch([f"{web}/list.txt"], BatchOptions(db=db, executor="dask", scheduler=cluster))
    by_path = {o.path: (o.status, o.error) for o in result.outcomes}
    assert by_path[f"{web}/gone.apk"] == ("missing", "no such object")
    assert by_path[f"{web}/corrupt.apk"] == ("error", "not a readable zip archive (no end of central directory record)")
    assert result.summary.by_status == {"ok": 6, "error": 1, "missing": 1}
    local = _local_run(tmp_path, [a.name for a in APKS[:6]] + ["corrupt.apk"])
    assert content(db) == content(local)


def test_scan_by_url_names_the_url_hashes_the_bytes_and_keeps_no_secret(
    web: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_url = web.replace("http://", "http://reader:hunter2@") + "/calllog.apk?X-Amz-Signature=s3kr1t"
    res = run_cli(["scan", secret_url, "--format", "json", "--fail-on", "never"], capsys)
    assert res.code == 0, res.err
    import json

    report = json.loads(res.out)
    assert report["app"]["sha256"] == hashlib.sha256((FIXTURES / "calllog.apk").read_bytes()).hexdigest()
    for fmt in ("text", "sarif", "markdown"):
        out = run_cli(["scan", secret_url, "--format", fmt, "--fail-on", "never"], capsys).out
        assert f"{web}/calllog.apk" in out and "hunter2" not in out and "s3kr1t" not in out
    missing = run_cli(["scan", secret_url.replace("calllog", "gone")], capsys)
    assert (missing.code, missing.err) == (3, f"appaudit: error: {web}/gone.apk: no such object\n")

    db = tmp_path / "secret.sqlite"  # nor in the store, for a scanned, a corrupt and a missing input
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([secret_url, secret_url.replace("calllog", "corrupt")]) + "\n")
    run_batch([str(listing)], BatchOptions(db=db, workers=1))
    dump = b"".join(p.read_bytes() for p in tmp_path.glob("secret.sqlite*"))
    assert b"hunter2" not in dump and b"s3kr1t" not in dump and f"{web}/calllog.apk".encode() in dump


def test_s3_scan_command_and_the_size_limit(s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(["scan", f"s3://{BUCKET}/in/benign.apk", "--format", "json", "--fail-on", "never"], capsys)
    assert res.code == 0, res.err
    with pytest.raises(InputError) as small:
        read_input(f"s3://{BUCKET}/in/benign.apk", Limits(max_input_size=100))
    size = (FIXTURES / "benign.apk").stat().st_size
    assert small.value.reason == f"is {size} bytes, over the 100-byte limit (max_input_size)"
    missing = run_cli(["batch", f"s3://{BUCKET}/none/", "--db", str(tmp_path / "none.sqlite")], capsys)
    assert (missing.code, missing.err.splitlines()[-1]) == (
        3,
        f"appaudit: error: s3://{BUCKET}/none/: no APK found (looked for *.apk, *.apks, *.xapk, *.apkm)",
    )


def test_http_stream_stops_at_the_limit(web: str) -> None:
    with pytest.raises(InputError) as exc:
        read_input(f"{web}/benign.apk", Limits(max_input_size=100))
    # One streamed GET (the size is not asked first): reading stops one chunk past the limit.
    assert (exc.value.path, exc.value.reason) == (
        f"{web}/benign.apk",
        "is larger than the 100-byte limit (max_input_size)",
    )


def test_redact() -> None:
    assert redact("s3://bucket/k.apk") == "s3://bucket/k.apk"
    assert redact("https://u:p@host:8443/a/b.apk?sig=x#frag") == "https://host:8443/a/b.apk"
    assert redact("/data/app.apk") == "/data/app.apk"
    assert redact("C:\\apks\\a.apk") == "C:\\apks\\a.apk"


def test_help_does_not_import_fsspec() -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "appaudit", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=True,
    )
    assert "appaudit" in out.stderr and "fsspec" not in out.stderr


def test_s3_list_files_prefixes_and_objects_expand_on_the_client(s3: Any) -> None:
    from appaudit.batch.inputs import APK_SUFFIXES
    from appaudit.batch.remote import expand_url

    lines = ["# a list in the bucket", "in/benign.apk", f"s3://{BUCKET}/in/picker.apk", "in/absent.apk", "late/"]
    s3.put_object(Bucket=BUCKET, Key="list.txt", Body="\n".join(lines).encode())
    s3.put_object(Bucket=BUCKET, Key="hashnamed", Body=(FIXTURES / "benign.apk").read_bytes())
    found = expand_url(f"s3://{BUCKET}/list.txt", APK_SUFFIXES, listed=False)
    assert [o.url for o in found.objects] == [f"s3://{BUCKET}/in/benign.apk", f"s3://{BUCKET}/in/picker.apk"]
    assert [(p.url, p.reason) for p in found.problems] == [(f"s3://{BUCKET}/in/absent.apk", "no such object")]
    benign = found.objects[0]
    assert (benign.size, benign.tag) == (
        (FIXTURES / "benign.apk").stat().st_size,
        hashlib.md5((FIXTURES / "benign.apk").read_bytes()).hexdigest(),
    )
    # an object named by its hash, without a suffix, that starts like a zip is an APK
    assert [o.url for o in expand_url(f"s3://{BUCKET}/hashnamed", APK_SUFFIXES, listed=False).objects] == [
        f"s3://{BUCKET}/hashnamed"
    ]
    with pytest.raises(InputError) as missing:
        expand_url(f"s3://{BUCKET}/nothing.apk", APK_SUFFIXES, listed=False)
    assert str(missing.value) == f"s3://{BUCKET}/nothing.apk: no such object"
