"""Prometheus metrics of terminal sessions and the runner, registered once per process.

Counted in memory: terminals live in the process that serves their sockets,
so each ASGI process reports its own.
"""

from prometheus_client import Counter, Gauge

TERMINALS_RUNNING = Gauge("devbench_terminals_running", "Terminal sessions with a live shell in this process.")
TERMINAL_CLIENTS = Gauge("devbench_terminal_clients_attached", "WebSockets attached to terminal sessions.")
TERMINAL_OUTPUT_BYTES = Counter("devbench_terminal_output_bytes", "Bytes read from terminal PTYs.")
SESSION_OUTCOMES = ("exited", "grace_expired", "idle", "workspace_closed", "shutdown", "failed")
TERMINAL_SESSIONS = Counter(
    "devbench_terminal_sessions",
    "Terminal sessions ended, by outcome: " + ", ".join(SESSION_OUTCOMES) + ".",
    labelnames=["outcome"],
)
for _outcome in SESSION_OUTCOMES:
    TERMINAL_SESSIONS.labels(_outcome)  # exported as 0 before the first one ends
RUNNER_RESTARTS = Counter("devbench_runner_restarts", "Runner processes restarted (packages changed or asked).")
