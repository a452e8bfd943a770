"""The one instance of a session manager in this process.

Terminals, runners and language servers each have a manager that owns their
processes; every consumer, view and signal handler of the process must reach
the same one, made on first use. When the interpreter exits, the manager's
processes are killed (``kill_all_now``), so none outlives the platform.
"""

import atexit
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self.instance: T | None = None  # tests may swap in their own
        self._lock = threading.Lock()
        atexit.register(self._kill_at_exit)

    def get(self) -> T:
        with self._lock:
            if self.instance is None:
                self.instance = self._factory()
            return self.instance

    def _kill_at_exit(self) -> None:
        kill_all_now = getattr(self.instance, "kill_all_now", None)
        if kill_all_now is not None:
            kill_all_now()
