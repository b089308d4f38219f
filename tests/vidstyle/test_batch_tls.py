"""`vidstyle batch --scheduler tls://…` on a real TLS Dask cluster of separate processes (a
`dask scheduler` and a `dask worker` on loopback with certificates signed by a CA made here with
the `openssl` command), with the certificates as flags and from Dask's configuration; a plain
tcp:// scheduler off loopback is warned about; a tls:// one without certificates is refused."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from flow.synthetic import Motion, render_clip
from vidstyle.batch.security import TLSFiles, batch_security, insecure_warning, is_loopback, scheduler_scheme_host
from vidstyle.encode import ffmpeg_exe, probe_video
from vidstyle.errors import OptionError

BIN = Path(sys.executable).parent
START_S = 60
RUN_S = 120
DEFAULTS = """
[defaults]
style = "style.png"
size = 48
iterations = 2
pyramid = 1
codec = "prores"
"""
SHOT = """
[[shot]]
name = "{name}"
input = "clips/pan"
end = {end}
"""

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A P-256 key and a certificate for 127.0.0.1/localhost signed by the CA: (cert, key)."""
    (folder / f"{name}.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n"
                                        "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=folder)
    return folder / f"{name}.pem", folder / f"{name}.key"


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, Path]:
    """A CA, a certificate for the scheduler and worker ("node") and one for vidstyle ("client")."""
    folder = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=vidstyle test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=folder)
    node_cert, node_key = _signed(folder, "node")
    client_cert, client_key = _signed(folder, "client")
    return {"ca": folder / "ca.pem", "node_cert": node_cert, "node_key": node_key, "client_cert": client_cert,
            "client_key": client_key}


@pytest.fixture
def media(tmp_path) -> Path:
    """A 3-frame clip of a real photo with known motion and a style image."""
    clip = tmp_path / "clips" / "pan"
    clip.mkdir(parents=True)
    for k, frame in enumerate(render_clip(skimage.data.astronaut(), (48, 36), Motion(dx=1.5), 3).frames):
        cv2.imwrite(str(clip / f"f{k:02d}.png"), np.ascontiguousarray(frame[..., ::-1]))
    style = cv2.resize(skimage.data.immunohistochemistry(), (48, 48), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "style.png"), style[..., ::-1])
    (tmp_path / "jobs.toml").write_text(DEFAULTS + SHOT.format(name="a", end=3))
    return tmp_path


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_DISTRIBUTED__COMM__")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "VIDSTYLE_CACHE": str(root / "cache"),
            "VIDSTYLE_LOG_DIR": str(root / "logs"), **extra}


def _start(args: list[str], root: Path, log: str) -> subprocess.Popen:
    with open(root / f"{log}.log", "wb") as out:
        return subprocess.Popen(args, env=_env(root), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def tls_cluster(tmp_path, certs):
    """``dask scheduler --protocol tls`` and one ``dask worker`` with the node certificate, each in
    its own process group (killed at the end); yields the scheduler's tls:// address."""
    root = tmp_path / "dask"
    root.mkdir()
    tls = ["--tls-ca-file", str(certs["ca"]), "--tls-cert", str(certs["node_cert"]),
           "--tls-key", str(certs["node_key"])]
    procs = []
    try:
        info = root / "scheduler.json"
        procs.append(_start([str(BIN / "dask"), "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port",
                             "0", "--no-dashboard", "--scheduler-file", str(info), *tls], root, "scheduler"))
        deadline = time.monotonic() + START_S
        while not info.is_file():
            assert procs[0].poll() is None, (root / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tls://127.0.0.1:")
        procs.append(_start([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                             "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(root / "worker"),
                             *tls], root, "worker"))
        yield address
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def _batch(media: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "vidstyle"), "batch", str(media / "jobs.toml"), "--no-report", *args],
                          env=_env(media, **env), capture_output=True, text=True, timeout=RUN_S)


def _video_codec(path: Path) -> str:
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    return next(line.split("Video: ", 1)[1] for line in text.splitlines() if "Video: " in line)


def _handshake(address: str, ca: Path, cert: Path | None = None, key: Path | None = None) -> dict:
    """TLS to the scheduler's port with the studio's CA (and a client certificate): the server's
    certificate subject, after one read that a server requiring client certificates fails."""
    host, port = address.removeprefix("tls://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    with socket.create_connection((host, int(port)), timeout=10) as raw, context.wrap_socket(raw) as tls:
        subject = dict(item for rdn in tls.getpeercert()["subject"] for item in rdn)
        tls.settimeout(0.5)
        try:
            tls.recv(1)  # TLS 1.3: a rejected client certificate arrives as an alert here
        except TimeoutError:
            pass
    return subject


def test_batch_over_tls_with_flags_then_with_dask_configuration(media, certs, tls_cluster):
    t0 = time.perf_counter()
    # The scheduler serves the studio's certificate and hangs up on clients without one.
    assert _handshake(tls_cluster, certs["ca"], certs["client_cert"], certs["client_key"])["commonName"] == "node"
    with pytest.raises(ssl.SSLError, match=r"CERTIFICATE_REQUIRED|certificate required"):
        _handshake(tls_cluster, certs["ca"])
    flags = ["--tls-ca-file", str(certs["ca"]), "--tls-cert", str(certs["client_cert"]),
             "--tls-key", str(certs["client_key"])]
    run = _batch(media, "--scheduler", tls_cluster, *flags)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"1 worker(s) at {tls_cluster}" in run.stdout and "shot a: done (3 frames" in run.stdout
    assert "warning" not in run.stderr
    marker = json.loads((media / "renders" / "a" / "done.json").read_text())
    video = media / "renders" / "a" / marker["video"]
    assert marker["video"] == "pan_stylized.mov" and _video_codec(video).startswith("prores (HQ)")
    assert probe_video(video).frame_count == 3
    t_flags = time.perf_counter() - t0

    # No flags: the same certificates from Dask's configuration (environment variables).
    (media / "jobs.toml").write_text(DEFAULTS + SHOT.format(name="a", end=3) + SHOT.format(name="b", end=2))
    config = {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(certs["ca"]),
              "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(certs["client_cert"]),
              "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(certs["client_key"])}
    rerun = _batch(media, "--scheduler", tls_cluster, **config)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "shot a: finished earlier, skipped" in rerun.stdout and "shot b: done (2 frames" in rerun.stdout
    print(f"\nflags run {t_flags:.1f}s, configuration run {time.perf_counter() - t0 - t_flags:.1f}s")


def test_scheduler_address_checks(media, certs, cli_fails, cli_ok, capfd):
    jobs = str(media / "jobs.toml")
    # tls:// without certificates: one line, exit 2, saying what to pass.
    code, _, err = cli_fails("batch", jobs, "--scheduler", "tls://127.0.0.1:8786", "--check")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "needs certificates" in err and "--tls-ca-file CA.pem --tls-cert CERT.pem --tls-key KEY.pem" in err
    assert "DASK_DISTRIBUTED__COMM__TLS__CA_FILE" in err
    # Plain TCP off loopback: a one-line warning, the check itself goes on.
    cli_ok("batch", jobs, "--scheduler", "tcp://10.20.30.40:8786", "--check")
    out, err = capfd.readouterr()
    assert "1 shot(s) OK" in out and len(err.strip().splitlines()) == 1
    assert "plain TCP: anyone who can reach it can run code on the render nodes; use tls://" in err
    for address in ("tcp://127.0.0.1:8786", "localhost:8786", "tcp://[::1]:8786", "127.3.2.1:1"):
        cli_ok("batch", jobs, "--scheduler", address, "--check")
        assert capfd.readouterr().err == "", address
    # Certificates with a plain address, a key of another certificate, a missing file.
    code, _, err = cli_fails("batch", jobs, "--scheduler", "tcp://127.0.0.1:8786", "--check",
                             "--tls-ca-file", str(certs["ca"]), "--tls-cert", str(certs["client_cert"]))
    assert code == 2 and "apply to a tls:// scheduler" in err
    code, _, err = cli_fails("batch", jobs, "--scheduler", "tls://127.0.0.1:8786", "--check", "--tls-ca-file",
                             str(certs["ca"]), "--tls-cert", str(certs["client_cert"]),
                             "--tls-key", str(certs["node_key"]))
    assert code == 2 and "cannot use the TLS certificates" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli_fails("batch", jobs, "--scheduler", "tls://127.0.0.1:8786", "--check", "--tls-ca-file",
                             str(certs["ca"]), "--tls-cert", str(media / "nope.pem"))
    assert code == 2 and "--tls-cert" in err and "not found" in err


def test_security_objects(certs):
    assert scheduler_scheme_host("tls://[::1]:8786") == ("tls", "::1")
    assert scheduler_scheme_host("render1:8786") == ("tcp", "render1")
    assert all(map(is_loopback, ("127.0.0.1", "127.255.0.9", "::1", "localhost")))
    assert not any(map(is_loopback, ("10.0.0.1", "render1", "0.0.0.0", "")))
    assert insecure_warning(None) is None and insecure_warning("tls://10.0.0.1:8786") is None
    assert insecure_warning("render1:8786") is not None
    assert batch_security(None) is None and batch_security("tcp://10.0.0.1:8786") is None
    security = batch_security("tls://10.0.0.1:8786", TLSFiles(certs["ca"], certs["client_cert"], certs["client_key"]))
    assert security.require_encryption and security.tls_client_cert == str(certs["client_cert"])
    with pytest.raises(OptionError, match="needs both --tls-ca-file and --tls-cert"):
        batch_security("tls://10.0.0.1:8786", TLSFiles(cert=certs["client_cert"]))
    with pytest.raises(OptionError, match="local cluster"):
        batch_security(None, TLSFiles(ca_file=certs["ca"]))
