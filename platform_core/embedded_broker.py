"""The Celery broker used when no Redis is configured: message files in a local folder.

This is kombu's filesystem transport with one change. Upstream creates the
message file under its final name and then writes into it, so a worker polling
the folder can pick up (and lose) a message that is still empty. Here the
message is written under a name the consumer ignores and then renamed into
place, which is atomic on one filesystem.
"""

import os
import uuid
from time import monotonic

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "devbench-fs"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final_path = os.path.join(self.data_folder_out, name)
        # Consumers only take files named "<stamp>_<uuid>.<queue>.msg"; a
        # leading "partial-" has no dot before the queue name, so it is skipped.
        partial_path = os.path.join(self.data_folder_out, f"partial-{uuid.uuid4().hex}")
        try:
            with open(partial_path, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.rename(partial_path, final_path)
        except OSError as error:
            raise filesystem.ChannelError(f"Cannot add a message to {self.data_folder_out!r}") from error


class Transport(filesystem.Transport):
    Channel = Channel


def register() -> None:
    TRANSPORT_ALIASES[SCHEME] = f"{__name__}:Transport"


def in_use() -> bool:
    from django.conf import settings

    return settings.CELERY_BROKER_URL.startswith(f"{SCHEME}://")
