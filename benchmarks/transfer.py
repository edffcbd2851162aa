"""Cases 1–3: uploads against curl, memory while streaming, batch throughput.

The sandbox runs in its own process (``sandbox_proc``); this process is the app.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.files import pdf_of_size, raw_file
from benchmarks.harness import CaseResult, Result, Stats, child_env, measure, run_child, wall
from benchmarks.sandbox_proc import SandboxProcess
from uploader_gui.core.dispatcher import Dispatcher
from uploader_gui.core.history import HistoryStore
from uploader_gui.core.jobs import SUCCESS, Job, sha256_of
from uploader_gui.core.targets import Credentials, Destination, Document, Secret, TargetConfig, make_target

MB = 1024 * 1024
SEND_TARGET_S = 0.35  # issue 18: `uploader-gui send` of one file, whole process
CLAROS_KEY = "sandbox-claros-key"  # the sandbox's demo key; not a secret


def curl_claros(url: str, path: Path, name: str | None = None) -> list[str]:
    name = name or path.name
    return ["curl", "-s", "-o", "/dev/null", "-H", "Expect:", "-H", f"X-API-Key: {CLAROS_KEY}",
            "-F", f"file=@{path};type=application/pdf", "-F", f"filename={name}",
            "-w", "%{http_code} %{time_total}\n", f"{url}/patients/1001/pdf/"]


def _curl_time(url: str, path: Path) -> float:
    proc = subprocess.run(curl_claros(url, path), capture_output=True, text=True, check=True)
    status, seconds = proc.stdout.split()
    if status != "201" and status != "200":
        raise RuntimeError(f"curl upload answered HTTP {status}")
    return float(seconds)


def single_upload(sb: SandboxProcess, work: Path, reps: int) -> list[CaseResult]:
    """Case 1: one 10 MB PDF, core upload call vs curl; and whole processes."""
    pdf = pdf_of_size(work / "single-10mb.pdf", 10 * MB, seed=10)
    tiny = pdf_of_size(work / "single-1kb.pdf", 1024, seed=11)
    target = make_target(TargetConfig(kind="claros", base_url=sb.url, name="bench"),
                         Credentials(token=Secret(CLAROS_KEY)))
    doc = Document(pdf, "pdf", pdf.stat().st_size)
    dest = Destination(patient_id="1001")

    def app_once() -> float:
        t0 = time.perf_counter()
        target.upload(doc, dest)
        return time.perf_counter() - t0

    app_once(), _curl_time(sb.url, pdf), _curl_time(sb.url, tiny)  # warm the cache and code paths
    app, ref, floor = [], [], []
    for _ in range(reps):
        app.append(app_once())
        ref.append(_curl_time(sb.url, pdf))
        floor.append(_curl_time(sb.url, tiny))
    target.close()
    shipped = _shipped_sandbox_uploads(work, doc, dest, reps=3)
    request = CaseResult(
        "1a", "single 10 MB upload (request)",
        "Claros POST of a 10 MB PDF: from the call of the app's ClarosTarget.upload() (the GUI's "
        "code path: Transport + streaming MultipartEncoder) to its return with a receipt; curl: "
        "its own time_total (connect to last response byte), same file, same server, -H 'Expect:'",
        "s", Stats.of(app), "curl -F", Stats.of(ref), "ratio ≤ 1.10", None,
        notes="Sandbox with TCP_NODELAY (see sandbox_proc). Against the sandbox as shipped the "
              f"app's keep-alive request takes {Stats.of(shipped).median:.3f} s: its response waits "
              "for a 40 ms delayed ACK.",
        extra={"app_vs_sandbox_as_shipped_s": shipped},
        floor_name="curl -F of a 1 KB PDF", floor=Stats.of(floor))
    request.passed = request.ratio <= 1.10

    home = work / "send-home"
    home.mkdir(exist_ok=True)
    # The command as installed: its bytecode compiled (pip compiles it on install, and
    # PYTHONDONTWRITEBYTECODE may be set here), started by the script next to this
    # interpreter, not by a version manager's shim (pyenv's runs bash and `pyenv exec`).
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "uploader_gui"), quiet=1)
    exe = Path(sys.executable).with_name("uploader-gui")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "uploader_gui"]
    send = [*cmd, "send", "--target", "claros", "--url", sb.url, "--patient", "1001",
            "--allow-duplicate", str(pdf)]
    env = child_env(UPLOADER_GUI_TOKEN=CLAROS_KEY, UPLOADER_GUI_HOME=str(home))
    bare_python = [sys.executable, "-c", "pass"]

    def send_once() -> float:
        seconds, proc = wall(send, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"uploader-gui send failed: {proc.stdout}{proc.stderr}")
        return seconds

    send_once(), wall(bare_python)  # a warm page cache for the imports, as for curl
    app_p, ref_p, floor_p = [], [], []
    for _ in range(max(2, reps // 2)):
        app_p.append(send_once())
        ref_p.append(wall(curl_claros(sb.url, pdf), check=True)[0])
        floor_p.append(wall(bare_python, env=env, check=True)[0])
    process = CaseResult(
        "1b", "send one 10 MB file (whole process)",
        "wall time from fork to exit of `uploader-gui send --target claros ... FILE` (Python start, "
        "imports, history, validation of the file in a helper process, upload) vs `curl -F` of "
        "the same file; one warm-up, then they alternate",
        "s", Stats.of(app_p), "curl process", Stats.of(ref_p), f"≤ {SEND_TARGET_S} s", None,
        notes="Judged on the worst run. The floor is the interpreter's own start: "
              f"`{Path(sys.executable).name} -c pass`, fork to exit.",
        floor_name="python -c pass", floor=Stats.of(floor_p))
    process.passed = process.app.max <= SEND_TARGET_S
    return [request, process]


def _shipped_sandbox_uploads(work: Path, doc: Document, dest: Destination, reps: int) -> list[float]:
    """The same upload against the sandbox with Nagle's algorithm left on, for the record."""
    with SandboxProcess(work / "sandbox-nagle", nagle=True) as sb:
        target = make_target(TargetConfig(kind="claros", base_url=sb.url, name="bench"),
                             Credentials(token=Secret(CLAROS_KEY)))
        target.upload(doc, dest)
        out = []
        for _ in range(reps):
            t0 = time.perf_counter()
            target.upload(doc, dest)
            out.append(time.perf_counter() - t0)
        target.close()
    shutil.rmtree(work / "sandbox-nagle", ignore_errors=True)
    return out


def streaming_memory(sb: SandboxProcess, work: Path, reps: int) -> CaseResult:
    """Case 2: 200 MB to REDCap; peak RSS of the uploading process above its baseline."""
    big = raw_file(work / "stream-200mb.pdf", 200 * MB, seed=200)
    token = sb.credentials["redcap_token"]
    app, ref, seconds = [], [], []
    for i in range(reps):  # a fresh record each time: the app never replaces a file silently
        out = run_child("memory_probe", ["app", sb.url, token, str(big), str(i + 1)])
        app.append(out["delta_mb"])
        seconds.append(out["seconds"])
    out = run_child("memory_probe", ["requests", sb.url, token, str(big), "1"])
    ref.append(out["delta_mb"])
    floor = [run_child("memory_probe", ["idle", sb.url, token, str(big), "1"])["delta_mb"]
             for _ in range(reps)]
    big.unlink()
    app_stats = Stats.of(app)
    return CaseResult(
        "2", "200 MB streaming, peak RSS above baseline",
        "a child process that uploads one 200 MB file to the sandbox's REDCap import: its RSS "
        "just before RedcapTarget.upload() vs the peak RSS sampled every 2 ms (and ru_maxrss) until "
        "it returns; reference: the same upload with plain requests.post(files=...)",
        "MB", app_stats, "requests files=", Stats.of(ref), "≤ 40 MB above baseline",
        app_stats.max <= 40, extra={"app_upload_seconds": seconds},
        floor_name="same probe, no upload", floor=Stats.of(floor))


def _job(path: Path, config: TargetConfig) -> Job:
    return Job(path=str(path), name=path.name, size=path.stat().st_size, sha256=sha256_of(path),
               file_type="pdf", target="claros", destination=Destination(patient_id="1001"),
               target_config=config)


def batch_files(work: Path, count: int = 200, size: int = 300 * 1024,
                name: str = "batch") -> list[Path]:
    folder = work / name
    folder.mkdir(exist_ok=True)
    return [pdf_of_size(folder / f"batch-{i:03d}.pdf", size, seed=1000 + i) for i in range(count)]


def batch_throughput(sb: SandboxProcess, work: Path, reps: int) -> CaseResult:
    """Case 3: 200 × 300 KB through the queue at concurrency 4 vs xargs -P4 curl."""
    files = batch_files(work)
    tiny = batch_files(work, size=1024, name="batch-1kb")
    config = TargetConfig(kind="claros", base_url=sb.url, name="bench batch")
    creds = Credentials(token=Secret(CLAROS_KEY))
    folder = files[0].parent
    xargs = ["xargs", "-0", "-P4", "-I{}", *curl_claros(sb.url, Path("{}"), "{}")]
    stdin = "".join(f"{p.name}\0" for p in files)

    def app_once(history: HistoryStore, files: list[Path] = files) -> float:
        t0 = time.perf_counter()
        d = Dispatcher(history, lambda _job: creds, concurrency=4)
        jobs = [d.submit(_job(p, config)) for p in files]
        if not d.wait_idle(300):
            raise RuntimeError("the batch did not finish")
        seconds = time.perf_counter() - t0
        d.shutdown()
        bad = [j.id for j in jobs if (history.get(j.id) or j).status not in SUCCESS]
        if bad:
            raise RuntimeError(f"{len(bad)} batch upload(s) were not sent")
        return seconds

    def curl_once() -> float:
        seconds, proc = wall(xargs, input=stdin, cwd=folder, check=True)
        codes = proc.stdout.split()[0::2]
        if len(codes) != len(files) or set(codes) - {"200", "201"}:
            raise RuntimeError(f"xargs curl: unexpected answers {sorted(set(codes))}")
        return seconds

    home = Path(tempfile.mkdtemp(prefix="bench-history-", dir=work))
    history = HistoryStore(home / "history.sqlite3")
    curl_once()  # warm-up: page cache, server threads
    app, ref, floor = [], [], []
    try:
        for _ in range(reps):
            app.append(app_once(history))
            ref.append(curl_once())
            floor.append(app_once(history, tiny))
    finally:
        history.close()
    result = CaseResult(
        "3", "batch 200 × 300 KB, concurrency 4",
        "wall time from creating the Dispatcher and submitting 200 Claros jobs (each recorded in "
        "the SQLite history, re-hashed and uploaded by 4 workers) until wait_idle() returns; "
        "reference: `xargs -0 -P4 curl -F` of the same 200 files, fork to exit",
        "s", Stats.of(app), "xargs -P4 curl", Stats.of(ref), "ratio ≤ 1.25", None,
        floor_name="the same queue, 200 × 1 KB", floor=Stats.of(floor))
    result.passed = result.ratio <= 1.25
    return result


def run(work: Path, quick: bool) -> list[Result]:
    """Cases 1a, 1b, 2 and 3; those whose reference tool (curl, xargs) is missing are
    recorded as not measured, and the others still run."""
    results: list[Result] = []
    with SandboxProcess(work / "sandbox") as sb:
        results += measure(("1a", "1b"), lambda: single_upload(sb, work, reps=3 if quick else 9),
                           needs=("curl",))
        results += measure(("2",), lambda: [streaming_memory(sb, work, reps=1 if quick else 3)])
        results += measure(("3",), lambda: [batch_throughput(sb, work, reps=2 if quick else 5)],
                           needs=("curl", "xargs"))
    shutil.rmtree(work / "sandbox", ignore_errors=True)
    os.sync()
    return results
