"""Prometheus metrics of language-server sessions (names start with devbench_lsp_)."""

from prometheus_client import Counter, Gauge, Histogram

SESSIONS = Gauge("devbench_lsp_sessions", "Language-server sessions in this process", ["server", "state"])
RESTARTS = Counter("devbench_lsp_restarts_total", "Language-server restarts", ["server", "reason"])
GIVE_UPS = Counter("devbench_lsp_give_ups_total", "Sessions that reached the restart limit", ["server"])
MESSAGES = Counter("devbench_lsp_messages_total", "JSON-RPC messages bridged", ["server", "direction"])
BRIDGE_SECONDS = Histogram(
    "devbench_lsp_bridge_seconds",
    "Time a message spends in the bridge (parse, path mapping, framing)",
    ["direction"],
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
)
