"""Fire-and-forget coroutines of a session manager, kept until they finish.

asyncio keeps only weak references to tasks, so a task nobody holds can
vanish mid-way; and a failure in one nobody awaits would go unseen. Managers
start their cleanup work (audit rows, unwatching, closing sessions) here, and
wait for all of it on shutdown.
"""

import asyncio

import structlog

logger = structlog.get_logger(__name__)


class BackgroundTasks:
    def __init__(self, name: str):
        self.name = name
        self._tasks: set[asyncio.Task] = set()

    def start(self, coroutine) -> None:
        """Run ``coroutine`` on the running loop; a failure is logged as ``<name>_background_task_failed``."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(f"{self.name}_background_task_failed", error=repr(task.exception()))

    async def wait(self) -> None:
        """Until every task, including ones started meanwhile, has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
