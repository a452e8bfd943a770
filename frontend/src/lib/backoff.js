// Reconnect delays for WebSockets: exponential backoff with full jitter
// (a random delay between 0 and the exponential cap), so that many tabs
// that lost the server at the same moment do not all come back at once.
//
// The attempt count only resets once a connection has stayed up for
// `stableMs`: a server that accepts and then drops every connection must
// not be hammered at the base delay forever.

export class Backoff {
  constructor({ baseMs = 500, factor = 2, maxMs = 15000, stableMs = 10000, random = Math.random } = {}) {
    Object.assign(this, { baseMs, factor, maxMs, stableMs, random });
    this.attempt = 0;
    this.stableTimer = null;
  }

  /**
   * The delay before the next attempt, counting it. With `immediate` the
   * first attempt after a stable connection is made at once (for "the
   * server asked us to reconnect"); later ones back off as usual.
   */
  nextDelay({ immediate = false } = {}) {
    const attempt = this.attempt;
    this.attempt += 1;
    if (immediate && attempt === 0) return 0;
    const cap = Math.min(this.maxMs, this.baseMs * this.factor ** attempt);
    return Math.round(this.random() * cap);
  }

  /** The connection is up: forget the failures once it has proven stable. */
  connected() {
    this.cancelStableTimer();
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      this.attempt = 0;
    }, this.stableMs);
  }

  /** The connection went down before (or after) it proved stable. */
  disconnected() {
    this.cancelStableTimer();
  }

  reset() {
    this.cancelStableTimer();
    this.attempt = 0;
  }

  cancelStableTimer() {
    if (this.stableTimer !== null) clearTimeout(this.stableTimer);
    this.stableTimer = null;
  }
}
