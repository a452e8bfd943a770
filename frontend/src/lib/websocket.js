// What the terminal and runner sockets share: the URL scheme and the close
// codes of docs/protocols.md ("Close codes").

/** ws: or wss: URL for a path on this page's host. */
export function webSocketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

export const CLOSE_RESTARTED = 4001;

// Close codes after which reconnecting cannot help, with the text shown
// when the server gave no reason of its own.
const FINAL_CLOSE_REASONS = {
  4003: "You are not signed in or have no access to this workspace.",
  4004: "No such workspace or session.",
  4008: "Limit reached: too many sessions are open.",
};

/** The reason to show if `event` (a CloseEvent) means "do not reconnect", else null. */
export function finalCloseReason(event) {
  const fallback = FINAL_CLOSE_REASONS[event.code];
  if (!fallback) return null;
  return event.reason || fallback;
}
