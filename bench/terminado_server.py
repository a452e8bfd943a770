"""A minimal terminado 0.18 server: the comparison point of bench/terminal_bench.py.

One route, ``/websocket``, served by terminado's own ``TermSocket`` with a
``UniqueTermManager`` (a fresh ``bash --norc --noprofile`` per socket, hung up
when the socket closes). Its protocol is JSON text frames: ``["stdin", text]``
up, ``["setup", {}]`` then ``["stdout", text]`` down; it has no flow control.
Prints ``READY <port>`` once listening; stops on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import signal

import tornado.web
from terminado import TermSocket, UniqueTermManager


async def serve(port: int) -> None:
    manager = UniqueTermManager(shell_command=["bash", "--norc", "--noprofile"])
    application = tornado.web.Application([(r"/websocket", TermSocket, {"term_manager": manager})])
    server = application.listen(port, address="127.0.0.1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {port}", flush=True)
    await stop.wait()
    server.stop()
    await manager.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
