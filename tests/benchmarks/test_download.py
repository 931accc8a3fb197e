"""benchmarks.download against a local HTTP server on 127.0.0.1 serving small release tarballs.

The release table is replaced through download()'s ``releases`` argument (and, for the
command line, by monkeypatching ``benchmarks.download.RELEASES``).
"""

import io
import re
import socket
import tarfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import benchmarks.download as dl
from benchmarks.data import (
    MODELNET_FILES,
    SCANOBJECTNN_FILES,
    load_modelnet_reference,
    load_synthetic_to_real,
)
from benchmarks.download import DownloadError, Release, download, extract_members

from ..synthetic_3dos import expected_counts, make_synthetic_release

SCAN_URL_PATH = "/s/abc/ScanObjectNN.tar"
MODELNET_URL_PATH = "/s/def/modelnet40_normal_resampled.tar"


@dataclass
class ServerState:
    base: str = ""  # http://127.0.0.1:PORT once the server runs
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: int | None = None  # first request only: close the connection after this many bytes
    ignore_range: bool = False  # answer every request with 200 and the whole file
    send_length: bool = True
    requests: list[tuple[str, str | None]] = field(default_factory=list)


def make_handler(state: ServerState):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?")[0]
            state.requests.append((path, self.headers.get("Range")))
            body = state.files.get(path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            requested = self.headers.get("Range")
            if requested and not state.ignore_range:
                start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            if state.send_length:
                self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            payload = body[start:]
            if state.cut_after is not None:
                payload, state.cut_after = payload[: state.cut_after], None
                self.close_connection = True
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def server():
    state = ServerState()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    # Requests must go straight to 127.0.0.1, never through a configured proxy.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return make_synthetic_release(tmp_path_factory.mktemp("source"), samples_per_class=1, seed=3)


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def build_tar(source: Path, members, prefix: str = "", extras: dict[str, bytes] | None = None) -> bytes:
    """A tarball in the release's folder structure, with unrelated files around the members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (extras or {}).items():
            add(tar, name, data)
        for member in members:
            add(tar, prefix + member, (source / member).read_bytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tarballs(source) -> dict[str, bytes]:
    scan = build_tar(
        source,
        SCANOBJECTNN_FILES,
        extras={
            "ScanObjectNN/h5_files/main_split_nobg/training_objectdataset.h5": b"not wanted",
            "ScanObjectNN/README.txt": b"readme",
            "../escape.txt": b"outside",
        },
    )
    # The ModelNet archive names its members "./modelnet40_normal_resampled/...".
    modelnet = build_tar(
        source, MODELNET_FILES, prefix="./", extras={"./modelnet40_normal_resampled/chair/a.txt": b"1,2"}
    )
    return {"scanobjectnn": scan, "modelnet": modelnet}


def table(server: ServerState, tarballs: dict[str, bytes], **sizes: int) -> dict[str, Release]:
    server.files = {SCAN_URL_PATH: tarballs["scanobjectnn"], MODELNET_URL_PATH: tarballs["modelnet"]}
    return {
        "scanobjectnn": Release(
            f"{server.base}{SCAN_URL_PATH}?dl=1",
            sizes.get("scanobjectnn", len(tarballs["scanobjectnn"])),
            "ScanObjectNN.tar",
            SCANOBJECTNN_FILES,
        ),
        "modelnet": Release(
            f"{server.base}{MODELNET_URL_PATH}?dl=1",
            sizes.get("modelnet", len(tarballs["modelnet"])),
            "modelnet40_normal_resampled.tar",
            MODELNET_FILES,
        ),
    }


def run(root: Path, releases, **kwargs):
    options = {"progress": False, "retry_wait": 0.0, "timeout": 10.0, **kwargs}
    return download(root, releases=releases, **options)


def files_under(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def assert_same_files(root: Path, source: Path, members) -> None:
    for member in members:
        assert (root / member).read_bytes() == (source / member).read_bytes(), member


def test_downloads_and_extracts_only_benchmark_files(tmp_path, server, tarballs, source):
    root = tmp_path / "data"
    releases = table(server, tarballs)
    paths = run(root, releases)
    assert paths == [root / m for m in SCANOBJECTNN_FILES + MODELNET_FILES]
    assert files_under(root) == set(SCANOBJECTNN_FILES + MODELNET_FILES)  # no tarball, no extras
    assert not (tmp_path / "escape.txt").exists()
    assert_same_files(root, source, SCANOBJECTNN_FILES + MODELNET_FILES)
    assert len(load_synthetic_to_real("SR1", root).known) == expected_counts(1)["SR1"]
    assert len(load_modelnet_reference("SR2", "test", root)) == 5

    # A finished release is not fetched again.
    requests = len(server.requests)
    assert run(root, releases) == paths
    assert len(server.requests) == requests == 2


def test_only_one_release(tmp_path, server, tarballs):
    root = tmp_path / "data"
    run(root, table(server, tarballs), only="modelnet")
    assert files_under(root) == set(MODELNET_FILES)
    assert [path for path, _ in server.requests] == [MODELNET_URL_PATH]
    with pytest.raises(ValueError, match="only must be one of 'scanobjectnn', 'modelnet'"):
        run(root, table(server, tarballs), only="shapenet")


def test_interrupted_transfer_resumes_with_range(tmp_path, server, tarballs, source):
    root = tmp_path / "data"
    releases = table(server, tarballs)
    server.cut_after = 5000
    run(root, releases, only="scanobjectnn")
    assert server.requests == [(SCAN_URL_PATH, None), (SCAN_URL_PATH, "bytes=5000-")]
    assert_same_files(root, source, SCANOBJECTNN_FILES)
    assert files_under(root) == set(SCANOBJECTNN_FILES)


def test_interruption_keeps_part_file_and_next_run_resumes(tmp_path, server, tarballs, source):
    root = tmp_path / "data"
    releases = table(server, tarballs)
    server.cut_after = 7000
    size = len(tarballs["scanobjectnn"])
    message = rf"stopped at 7000 of {size} bytes after 1 attempt\(s\).*run the same command again"
    with pytest.raises(DownloadError, match=message):
        run(root, releases, only="scanobjectnn", retries=0)
    # Nothing that looks complete: only the .part file.
    assert files_under(root) == {"ScanObjectNN.tar.part"}
    assert (root / "ScanObjectNN.tar.part").stat().st_size == 7000

    run(root, releases, only="scanobjectnn")
    assert server.requests[-1] == (SCAN_URL_PATH, "bytes=7000-")
    assert_same_files(root, source, SCANOBJECTNN_FILES)
    assert files_under(root) == set(SCANOBJECTNN_FILES)


def test_server_ignoring_range_restarts_from_zero(tmp_path, server, tarballs, source):
    root = tmp_path / "data"
    root.mkdir()
    # A stale prefix of wrong bytes: it must be discarded, not extended.
    (root / "ScanObjectNN.tar.part").write_bytes(b"\xff" * 3000)
    releases = table(server, tarballs)
    server.ignore_range = True
    run(root, releases, only="scanobjectnn")
    assert server.requests == [(SCAN_URL_PATH, "bytes=3000-")]
    assert_same_files(root, source, SCANOBJECTNN_FILES)


def test_interrupted_then_range_ignored(tmp_path, server, tarballs, source):
    root = tmp_path / "data"
    releases = table(server, tarballs)
    server.cut_after, server.ignore_range = 4096, True
    run(root, releases, only="modelnet")
    assert server.requests == [(MODELNET_URL_PATH, None), (MODELNET_URL_PATH, "bytes=4096-")]
    assert_same_files(root, source, MODELNET_FILES)


def test_size_mismatch_is_a_clear_error(tmp_path, server, tarballs):
    root = tmp_path / "data"
    served = len(tarballs["scanobjectnn"])
    releases = table(server, tarballs, scanobjectnn=served + 10)
    message = rf"serves {served} bytes but the release table expects {served + 10}"
    with pytest.raises(DownloadError, match=message):
        run(root, releases, only="scanobjectnn")
    assert len(server.requests) == 1  # not retried
    assert files_under(root) == set()


def test_longer_body_without_length_is_rejected(tmp_path, server, tarballs):
    root = tmp_path / "data"
    served = len(tarballs["scanobjectnn"])
    releases = table(server, tarballs, scanobjectnn=served - 512)
    server.send_length = False
    with pytest.raises(DownloadError, match=rf"sent more than the {served - 512} bytes"):
        run(root, releases, only="scanobjectnn")
    assert files_under(root) == set()


def test_client_error_is_not_retried(tmp_path, server, tarballs):
    releases = table(server, tarballs)
    server.files = {}
    with pytest.raises(DownloadError, match="HTTP 404"):
        run(tmp_path / "data", releases, only="modelnet", retries=3)
    assert len(server.requests) == 1


def test_archive_missing_a_member(tmp_path, server, tarballs, source):
    root = tmp_path / "data"
    releases = table(server, tarballs)
    server.files[SCAN_URL_PATH] = build_tar(source, SCANOBJECTNN_FILES[:1])
    releases["scanobjectnn"] = Release(
        releases["scanobjectnn"].url, len(server.files[SCAN_URL_PATH]), "ScanObjectNN.tar", SCANOBJECTNN_FILES
    )
    with pytest.raises(DownloadError, match=rf"ScanObjectNN\.tar lacks {SCANOBJECTNN_FILES[1]}"):
        run(root, releases, only="scanobjectnn")


def test_damaged_archive_leaves_no_partial_member(tmp_path, source):
    archive = tmp_path / "ScanObjectNN.tar"
    data = build_tar(source, SCANOBJECTNN_FILES)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        first = tar.getmember(SCANOBJECTNN_FILES[0])
    archive.write_bytes(data[: first.offset_data + first.size // 2])  # cut inside the first member
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="is damaged"):
        extract_members(archive, SCANOBJECTNN_FILES, root, progress=False)
    assert files_under(root) == set()  # no final file and no temporary left behind


def test_member_that_is_a_link_is_refused(tmp_path, source):
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        link = tarfile.TarInfo(SCANOBJECTNN_FILES[0])
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(DownloadError, match="is not a regular file"):
        extract_members(archive, SCANOBJECTNN_FILES, tmp_path / "data", progress=False)


def test_existing_members_are_kept(tmp_path, source):
    archive = tmp_path / "ScanObjectNN.tar"
    archive.write_bytes(build_tar(source, SCANOBJECTNN_FILES))
    root = tmp_path / "data"
    kept = root / SCANOBJECTNN_FILES[0]
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"already here")
    extract_members(archive, SCANOBJECTNN_FILES, root, progress=False)
    assert kept.read_bytes() == b"already here"
    assert_same_files(root, source, SCANOBJECTNN_FILES[1:])


def test_command_line(tmp_path, server, tarballs, monkeypatch, capsys):
    monkeypatch.setattr(dl, "RELEASES", table(server, tarballs))
    root = tmp_path / "data"
    assert dl.main(["--data-root", str(root), "--only", "scanobjectnn", "-q"]) == 0
    assert capsys.readouterr().out.split() == [str(root / m) for m in SCANOBJECTNN_FILES]

    server.files = {}
    assert dl.main(["--data-root", str(root), "--only", "modelnet", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m benchmarks.download: error: ") and "HTTP 404" in err


def test_name_resolution_failure_gives_up_at_once(tmp_path, monkeypatch, capsys):
    calls = []

    def unresolvable(request, timeout):
        calls.append(request.full_url)
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", unresolvable)
    monkeypatch.setattr(dl.time, "sleep", lambda seconds: pytest.fail("no retry may wait"))
    release = Release("https://www.dropbox.invalid/s/x/ScanObjectNN.tar?dl=1", 100, "ScanObjectNN.tar", SCANOBJECTNN_FILES)
    monkeypatch.setattr(dl, "RELEASES", {"scanobjectnn": release})
    assert dl.main(["--data-root", str(tmp_path / "data"), "-q"]) == 1
    assert capsys.readouterr().err == (
        "python -m benchmarks.download: error: cannot resolve the host of https://www.dropbox.invalid/s/x/"
        "ScanObjectNN.tar?dl=1 (Name or service not known); check the network connection (or proxy settings) "
        "and run the same command again\n"
    )
    assert len(calls) == 1


def test_attempts_are_counted_and_a_part_file_named_only_when_it_exists(tmp_path, monkeypatch, server, tarballs):
    calls = []

    def refused(request, timeout):
        calls.append(request.full_url)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(urllib.request, "urlopen", refused)
    releases = table(server, tarballs)
    size = len(tarballs["scanobjectnn"])
    with pytest.raises(DownloadError) as error:
        run(tmp_path / "data", releases, only="scanobjectnn", retries=2)
    assert str(error.value) == (
        f"downloading {releases['scanobjectnn'].url} stopped at 0 of {size} bytes after 3 attempt(s); "
        "run the same command again to resume"
    )
    assert len(calls) == 3 and not (tmp_path / "data" / "ScanObjectNN.tar.part").exists()
