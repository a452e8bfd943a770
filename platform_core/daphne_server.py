"""Start daphne with the platform's WebSocket message limit.

    python -m platform_core.daphne_server [daphne options] platform_core.asgi:application

daphne's default limit (1 MiB) lies below what the protocols allow
(docs/protocols.md, "Message sizes"), and over any limit Autobahn drops the
TCP connection, which a browser sees as 1006 and cannot tell from a crash: the
IDE's language clients reconnected, sent the same large file again, and
looped. This is daphne's own command line with two changes: the limit is
``settings.WEBSOCKET_MAX_MESSAGE_BYTES`` (frames and messages alike), and a
message over it is answered with a close frame 1009 (Message Too Big).

Everything that starts daphne goes through here: ``manage.py serve``, the
Docker image's ``web`` role and the test suite (``command()``).
"""

import sys

APPLICATION = "platform_core.asgi:application"
# daphne's own size options would contradict the setting; refuse them rather than pick one.
_SIZE_OPTIONS = ("--websocket-max-message-size", "--websocket-max-frame-size")


def command(*daphne_options: str, application: str = APPLICATION) -> list[str]:
    """The argv that serves ``application`` with these daphne options (``-b``, ``-p``, ...)."""
    return [sys.executable, "-m", "platform_core.daphne_server", *daphne_options, application]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    refused = [arg for arg in argv if arg.split("=", 1)[0] in _SIZE_OPTIONS]
    if refused:
        sys.exit(f"{', '.join(refused)}: the limit comes from the WEBSOCKET_MAX_MESSAGE_BYTES setting.")

    # Imported here: daphne.server installs Twisted's asyncio reactor on import,
    # which only this process may do.
    from daphne.cli import CommandLineInterface
    from daphne.server import Server

    class PlatformServer(Server):
        """daphne's server with the size policy. Built after the ASGI app is loaded, so settings are ready."""

        def __init__(self, *args, **kwargs):
            from django.conf import settings

            limit = settings.WEBSOCKET_MAX_MESSAGE_BYTES
            kwargs.update(websocket_max_message_size=limit, websocket_max_frame_size=limit)
            super().__init__(*args, ready_callable=self._answer_oversized_messages_with_a_close_frame, **kwargs)

        def _answer_oversized_messages_with_a_close_frame(self):
            # Called once the WebSocket factory exists, before the reactor
            # runs; protocols copy the factory's options when a client connects.
            # Without failByDrop Autobahn fails a connection (here: a message
            # too big) with a close handshake carrying the code instead of an abort.
            self.ws_factory.setProtocolOptions(failByDrop=False)

    class PlatformCommandLineInterface(CommandLineInterface):
        server_class = PlatformServer

    PlatformCommandLineInterface().run(argv)


if __name__ == "__main__":
    main()
