"""Small TCP port helpers for brokers and demos that must not collide with a running broker.

A system Mosquitto often already owns 1883, and a second demo may own our default port; the demo
asks `port_is_free` first and falls back to `free_port` rather than failing on the first run.
"""

from __future__ import annotations

import socket


def _bind_family(host: str) -> socket.AddressFamily:
    # getaddrinfo rather than a guess from the text, so "localhost" and "::1" both work.
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return infos[0][0] if infos else socket.AF_INET


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_bind_family(host), socket.SOCK_STREAM)
    try:
        # Servers (asyncio's start_server, Mosquitto) set SO_REUSEADDR, so a port left in
        # TIME_WAIT by a broker that just stopped is free for them; probing the same way keeps
        # this answer identical to theirs. Linux still refuses the bind while anything listens.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1)
    except BaseException:
        sock.close()
        raise
    return sock


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port right now (a snapshot: another may take it)."""
    try:
        _listening_socket(host, port).close()
    except OSError:
        return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free on host; bind it soon, since nothing reserves it."""
    with _listening_socket(host, 0) as sock:
        port: int = sock.getsockname()[1]
    return port
