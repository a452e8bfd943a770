"""Language-server benchmark: Devbench's LSP WebSocket bridge against the same server over direct stdio.

Measures, in one run (bench/README.md says how to run it):

- round trips of ``textDocument/hover`` and ``textDocument/completion`` to
  basedpyright, sent one at a time, through Devbench's
  ``/ws/workspaces/<id>/lsp/pyright/`` and over the server's own stdin/stdout
  (the floor: no bridge at all); the difference is what the bridge adds;
  optionally jupyter-lsp (``--jupyter-lsp``, when jupyter-lsp and
  jupyter_server are installed) on the same server and file;
- the targets take turns in blocks, so drift on a shared machine hits all;
- the resident memory of a pyright and a ruff session (from the health API),
  and of daphne before and after.

Devbench runs for real: a throwaway DATA_DIR, ``manage.py migrate``, a user and
a ready workspace from bench/setup_platform.py, daphne in a subprocess; the
direct server is the same argv and environment the platform uses
(``lsp.servers``), in the same workspace directory.
"""

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import websockets
from terminal_bench import (
    BENCH_DIR,
    REPOSITORY,
    BenchError,
    ManagedProcess,
    free_port,
    log,
    machine_info,
    percentile,
    platform_env,
    rss_bytes,
    run_step,
    wait_for_port,
)

SAMPLE = '''"""A module of ordinary size for the language server to chew on."""

import os
import json
import secrets
from dataclasses import dataclass, field


@dataclass
class Item:
    name: str
    size: int = 0
    tags: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.name} ({self.size} bytes, {len(self.tags)} tags)"


def load(path: str) -> list[Item]:
    with open(path) as stream:
        rows = json.load(stream)
    return [Item(row["name"], int(row.get("size", 0)), list(row.get("tags", []))) for row in rows]


def total(items: list[Item]) -> int:
    return sum(item.size for item in items)


counter = total(load(os.path.join("data", "items.json")))
os.pa
'''
HOVER_POSITION = {"line": 26, "character": 2}  # on "counter"
COMPLETION_POSITION = {"line": 27, "character": 5}  # after "os.pa"
CAPABILITIES = {
    "textDocument": {
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        "completion": {"completionItem": {"snippetSupport": False}},
        "publishDiagnostics": {},
    },
    "workspace": {"configuration": True},
}


class Link:
    """One way to talk to a language server: JSON-RPC requests with their round-trip times."""

    name = "?"
    root_uri = "file:///workspace"

    def __init__(self):
        self.ids = 0
        self.waiting: dict[int, asyncio.Future] = {}
        self.diagnostics = asyncio.Event()

    async def send(self, message: dict) -> None:
        raise NotImplementedError

    def received(self, message: dict) -> None:
        if "id" in message and "method" not in message:
            future = self.waiting.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(message)
        elif "id" in message:  # the server asks the client something
            answer = (
                [{} for _ in message.get("params", {}).get("items", [])]
                if "configuration" in message["method"]
                else None
            )
            asyncio.get_running_loop().create_task(self.send({"jsonrpc": "2.0", "id": message["id"], "result": answer}))
        elif message.get("method") == "textDocument/publishDiagnostics":
            self.diagnostics.set()

    async def request(self, method: str, params: dict, timeout: float = 60.0) -> tuple[dict, float]:
        self.ids += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.ids] = future
        started = time.perf_counter()
        await self.send({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params})
        response = await asyncio.wait_for(future, timeout)
        return response, time.perf_counter() - started

    async def prepare(self, text: str) -> None:
        response, _ = await self.request(
            "initialize", {"processId": None, "rootUri": self.root_uri, "capabilities": CAPABILITIES}
        )
        if "error" in response:
            raise BenchError(f"{self.name}: initialize failed: {response['error']}")
        await self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        await self.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": self.uri, "languageId": "python", "version": 1, "text": text}},
            }
        )
        await asyncio.wait_for(self.diagnostics.wait(), 120)

    @property
    def uri(self) -> str:
        return f"{self.root_uri}/sample.py"

    async def close(self) -> None:
        pass


class StdioLink(Link):
    name = "direct stdio"

    def __init__(self, process: asyncio.subprocess.Process, root: Path):
        super().__init__()
        self.process = process
        self.root_uri = root.as_uri()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, argv: list[str], env: dict[str, str], root: Path) -> "StdioLink":
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        return cls(process, root)

    async def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await self.process.stdin.drain()

    async def _read(self) -> None:
        stdout = self.process.stdout
        while True:
            header = await stdout.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in header.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            self.received(json.loads(await stdout.readexactly(length)))

    async def close(self) -> None:
        self.reader.cancel()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()


class WebSocketLink(Link):
    def __init__(self, name: str, websocket, root_uri: str):
        super().__init__()
        self.name = name
        self.websocket = websocket
        self.root_uri = root_uri
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, name: str, url: str, root_uri: str, headers: dict[str, str]) -> "WebSocketLink":
        websocket = await websockets.connect(url, additional_headers=headers, max_size=64 * 2**20, compression=None)
        return cls(name, websocket, root_uri)

    async def send(self, message: dict) -> None:
        await self.websocket.send(json.dumps(message))

    async def _read(self) -> None:
        async for frame in self.websocket:
            self.received(json.loads(frame))

    async def close(self) -> None:
        self.reader.cancel()
        await self.websocket.close()


# The run --------------------------------------------------------------------------------------------------


async def measure(links: list[Link], samples: int, block: int) -> dict:
    requests = {
        "hover": ("textDocument/hover", HOVER_POSITION),
        "completion": ("textDocument/completion", COMPLETION_POSITION),
    }
    times: dict[str, dict[str, list[float]]] = {link.name: {kind: [] for kind in requests} for link in links}
    for kind, (method, position) in requests.items():
        for link in links:  # warm-up: caches, JIT
            for _ in range(10):
                await link.request(method, {"textDocument": {"uri": link.uri}, "position": position})
        done = 0
        while done < samples:
            for link in links:
                for _ in range(block):
                    response, seconds = await link.request(
                        method, {"textDocument": {"uri": link.uri}, "position": position}
                    )
                    if "error" in response:
                        raise BenchError(f"{link.name}: {method} failed: {response['error']}")
                    times[link.name][kind].append(seconds * 1000)
            done += block
    return times


def summarize(times: dict) -> dict:
    return {
        name: {
            kind: {
                "p50": statistics.median(samples),
                "p95": percentile(samples, 0.95),
                "p99": percentile(samples, 0.99),
                "n": len(samples),
            }
            for kind, samples in kinds.items()
        }
        for name, kinds in times.items()
    }


METRICS_TOKEN = secrets.token_urlsafe(16)  # for the throwaway server's /metrics


def bridge_seconds(port: int) -> dict[str, float]:
    """Mean time a message spent inside the bridge, per direction, from /metrics (ms)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own local server
        text = response.read().decode()
    sums, counts = {}, {}
    for line in text.splitlines():
        for suffix, target in (("_sum", sums), ("_count", counts)):
            prefix = f"devbench_lsp_bridge_seconds{suffix}{{"
            if line.startswith(prefix):
                direction = line.split('direction="')[1].split('"')[0]
                target[direction] = float(line.rsplit(" ", 1)[1])
    return {direction: sums[direction] / counts[direction] * 1000 for direction in sums if counts.get(direction)}


def health(port: int, workspace_id: int, cookie: str) -> list[dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/workspaces/{workspace_id}/lsp/", headers={"Cookie": cookie}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own local server
        return json.load(response)


async def run(args: argparse.Namespace, temp: Path, processes: list[ManagedProcess], links: list[Link]) -> dict:
    data_dir = temp / "data"
    env = {**platform_env(data_dir), "METRICS_TOKEN": METRICS_TOKEN}
    python = sys.executable
    log("migrating a throwaway database")
    await run_step([python, "manage.py", "migrate", "--noinput"], env=env, timeout=120, what="migrate")
    setup = json.loads(
        (await run_step([python, str(BENCH_DIR / "setup_platform.py")], env=env, timeout=60, what="setup"))
        .strip()
        .splitlines()[-1]
    )
    workspace_id, cookie = setup["workspace_id"], setup["session_cookie"]
    root = data_dir / "workspaces" / f"ws-{workspace_id}"
    (root / "sample.py").write_text(SAMPLE)

    port = free_port()
    daphne = ManagedProcess(
        "daphne",
        [
            python,
            "-m",
            "platform_core.daphne_server",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "platform_core.asgi:application",
        ],
        env=env,
        log_path=temp / "daphne.log",
    )
    processes.append(daphne)
    await wait_for_port(daphne, port, 60)
    daphne_rss_before = rss_bytes(daphne.pid)

    # The direct server: exactly the argv and environment the platform uses.
    sys.path.insert(0, str(REPOSITORY))
    import os

    os.environ.update({"DATA_DIR": str(data_dir), "DEBUG": "1"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")
    import django

    django.setup()
    from lsp.servers import server_environment, server_spec
    from workspaces.environment.pyright_config import ensure_pyright_config

    ensure_pyright_config(root)
    spec = server_spec("pyright")
    direct = await StdioLink.start(spec.argv, server_environment(root), root)
    links.append(direct)

    headers = {"Origin": f"http://127.0.0.1:{port}", "Cookie": cookie}
    bridge = await WebSocketLink.connect(
        "Devbench", f"ws://127.0.0.1:{port}/ws/workspaces/{workspace_id}/lsp/pyright/", "file:///workspace", headers
    )
    links.append(bridge)
    ruff = await WebSocketLink.connect(
        "Devbench ruff", f"ws://127.0.0.1:{port}/ws/workspaces/{workspace_id}/lsp/ruff/", "file:///workspace", headers
    )
    links.append(ruff)
    measured = [direct, bridge]
    if args.jupyter_lsp:
        measured.append(await start_jupyter_lsp(temp, root, spec.argv, processes, links))

    log("initializing and waiting for the first diagnostics")
    for link in [*measured, ruff]:
        await link.prepare(SAMPLE)
    log(f"measuring {args.samples} hovers and completions per target")
    times = await measure(measured, args.samples, args.block)

    sessions = {row["server"]: row for row in health(port, workspace_id, cookie)}
    bridge_time = bridge_seconds(port)
    direct_rss = sum(rss_bytes(pid) or 0 for pid in [direct.process.pid])
    return {
        "times": times,
        "summary": summarize(times),
        "bridge_ms_per_message": bridge_time,
        "memory": {
            "pyright_session_bytes": sessions.get("pyright", {}).get("memory_bytes"),
            "ruff_session_bytes": sessions.get("ruff", {}).get("memory_bytes"),
            "direct_pyright_bytes": direct_rss,
            "daphne_before_bytes": daphne_rss_before,
            "daphne_after_bytes": rss_bytes(daphne.pid),
        },
    }


async def start_jupyter_lsp(temp: Path, root: Path, argv: list[str], processes, links) -> Link:
    """jupyter_server with jupyter-lsp serving the same basedpyright on the same directory."""
    port = free_port()
    config = temp / "jupyter_config.json"
    config.write_text(
        json.dumps(
            {
                "LanguageServerManager": {
                    "autodetect": False,
                    "language_servers": {
                        "basedpyright": {
                            "argv": argv,
                            "languages": ["python"],
                            "version": 2,
                            "mime_types": ["text/x-python"],
                            "display_name": "basedpyright",
                        }
                    },
                },
                "IdentityProvider": {"token": ""},
                "ServerApp": {"disable_check_xsrf": True, "open_browser": False},
            }
        )
    )
    jupyter = ManagedProcess(
        "jupyter-lsp",
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--ServerApp.root_dir={root}",
            f"--config={config}",
            "--allow-root",
        ],
        env={**platform_env(temp / "jupyter-data"), "JUPYTER_CONFIG_DIR": str(temp / "jupyter-config")},
        log_path=temp / "jupyter.log",
    )
    processes.append(jupyter)
    await wait_for_port(jupyter, port, 60)
    link = await WebSocketLink.connect(
        "jupyter-lsp",
        f"ws://127.0.0.1:{port}/lsp/ws/basedpyright",
        root.as_uri(),
        {"Origin": f"http://127.0.0.1:{port}"},
    )
    links.append(link)
    return link


# Report ---------------------------------------------------------------------------------------------------


def markdown(results: dict, command: str) -> str:
    summary = results["summary"]
    names = list(summary)
    direct = summary["direct stdio"]
    info = machine_info()
    versions = ", ".join(f"{package} {_version(package)}" for package in VERSIONED)
    lines = [
        f"Run: {datetime.now(UTC).strftime('%a %b %d %H:%M:%S UTC %Y')}, `{command}`.",
        "",
        f"Machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory']} RAM, Linux {info['kernel']}, "
        f"Python {info['python']}; {versions}.",
        "",
        "| round trip (ms) | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    for kind in ("hover", "completion"):
        for stat in ("p50", "p95"):
            cells = [f"{summary[name][kind][stat]:.3f}" for name in names]
            lines.append(f"| {kind} {stat} ({summary[names[0]][kind]['n']} requests) | " + " | ".join(cells) + " |")
    lines.append(
        "| added by the bridge, p50 / p95 (ms) | — | "
        + " | ".join(
            f"hover {summary[name]['hover']['p50'] - direct['hover']['p50']:+.3f} / "
            f"{summary[name]['hover']['p95'] - direct['hover']['p95']:+.3f}; completion "
            f"{summary[name]['completion']['p50'] - direct['completion']['p50']:+.3f} / "
            f"{summary[name]['completion']['p95'] - direct['completion']['p95']:+.3f}"
            for name in names[1:]
        )
        + " |"
    )
    memory = results["memory"]
    mib = 2**20
    inside = results["bridge_ms_per_message"]
    lines += [
        "",
        f"Memory: a pyright session {memory['pyright_session_bytes'] / mib:.0f} MiB "
        f"(the same server run directly: {memory['direct_pyright_bytes'] / mib:.0f} MiB), "
        f"a ruff session {memory['ruff_session_bytes'] / mib:.0f} MiB; daphne "
        f"{memory['daphne_before_bytes'] / mib:.0f} MiB before the sessions, "
        f"{memory['daphne_after_bytes'] / mib:.0f} MiB with them.",
        "",
        "Time inside the bridge per message (parse, path mapping, framing; Devbench's own histogram): "
        f"browser → server {inside.get('client', 0):.3f} ms, server → browser {inside.get('server', 0):.3f} ms.",
        "",
        "Goal: at most 1 ms added at p50: "
        + (
            "**met**"
            if max(summary["Devbench"][k]["p50"] - direct[k]["p50"] for k in ("hover", "completion")) <= 1.0
            else "**missed**"
        )
        + f" (hover {summary['Devbench']['hover']['p50'] - direct['hover']['p50']:+.3f} ms, completion "
        f"{summary['Devbench']['completion']['p50'] - direct['completion']['p50']:+.3f} ms).",
    ]
    return "\n".join(lines)


VERSIONED = ("basedpyright", "ruff", "daphne", "channels", "websockets", "jupyter-lsp", "jupyter_server")


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def write_markdown(path: Path, block: str) -> None:
    start, end = "<!-- lsp-bench:results:start -->", "<!-- lsp-bench:results:end -->"
    text = path.read_text()
    if start not in text:
        raise BenchError(f"{path} has no {start} marker")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{block}\n{end}{tail}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="requests of each kind per target")
    parser.add_argument("--block", type=int, default=20, help="requests in a row before the next target's turn")
    parser.add_argument("--jupyter-lsp", action="store_true", help="also measure jupyter-lsp (needs it installed)")
    parser.add_argument("--markdown", type=Path, help="replace the results block in this file")
    parser.add_argument("--json", type=Path, help="write raw results here")
    parser.add_argument("--timeout", type=float, default=600)
    return parser.parse_args()


async def main_async(args: argparse.Namespace) -> dict:
    temp = Path(tempfile.mkdtemp(prefix="devbench-lsp-bench-"))
    processes: list[ManagedProcess] = []
    links: list[Link] = []
    try:
        return await asyncio.wait_for(run(args, temp, processes, links), args.timeout)
    finally:
        for link in links:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(link.close(), 5)
        for process in processes:
            with contextlib.suppress(Exception):
                process.stop()
        import shutil

        shutil.rmtree(temp, ignore_errors=True)


def main() -> int:
    args = parse_args()
    results = asyncio.run(main_async(args))
    block = markdown(results, " ".join([".venv/bin/python", *sys.argv]))
    print(block)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        write_markdown(args.markdown, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
