"""adieu serve: the reviewer's web page (engine/serve.py), run by uvicorn on
a socket bound here first (so that a port in use or a bad --host is one
line `Error: ...`, exit 2, and the "reviewing at" line means it is up)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import click

from ..audit_anchor import refuse_unkeyed_writer
from ..errors import InputError
from ..safe_text import echo
from .common import db_option, opened_store, resolve_db

INSTALL_HINT = "adieu serve needs the serve extra: pip install 'adieu[serve]'"
EVERY_ADDRESS = ("0.0.0.0", "::", "[::]", "")


def loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1,
    localhost, in any case)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _bracketed(host: str) -> str:
    """An IPv6 address as a Host header writes it: [::1]."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def allowed_hosts(host: str, allow: tuple[str, ...] = ()) -> list[str]:
    """The host names a Host header may give when bound to `host`: the
    loopback names, the host itself (unless it is every address: 0.0.0.0,
    ::) and the names of --allow-host and --public-url, lower case."""
    names = {"127.0.0.1", "localhost"}
    if host.strip().lower() not in EVERY_ADDRESS:
        names.add(_bracketed(host.strip().lower()))
    names.update(_bracketed(a.strip().lower()) for a in allow)
    return sorted(names)


def public_origin(url: str) -> tuple[str, str]:
    """--public-url URL as (origin, host name); InputError unless an
    http(s) URL with a host (a path is allowed: the proxy's prefix)."""
    from ..serve import origin_of  # needs the serve extra

    origin = origin_of(url)
    if origin is None:
        raise InputError(f"--public-url {url!r} is not an http:// or https:// URL with a "
                         "host name (e.g. https://review.example.com)")
    host = origin.split("://", 1)[1]
    return origin, host.rsplit(":", 1)[0] if not host.endswith("]") else host


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; InputError naming the address and
    why when it cannot be had (a port in use, a host not known here, no
    permission)."""
    where = f"{_bracketed(host)}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]") or None, port, type=socket.SOCK_STREAM,
            flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise InputError(f"cannot listen on {where}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise InputError(f"cannot listen on {where}: {reason}") from None
    sock.setblocking(False)
    return sock


def run_server(app: Any, sock: socket.socket) -> None:
    """Serve app on the bound socket until Ctrl-C (uvicorn)."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def register(cli: click.Group) -> None:
    @cli.command("serve")
    @db_option
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="The address to listen on. Anything but this machine's own "
                       "(127.0.0.1, ::1, localhost) lets others on the network reach "
                       "the page: a warning is printed. Every address (0.0.0.0, ::) "
                       "needs --allow-host or --public-url.")
    @click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
                  help="The TCP port to listen on (0: any free port, printed).")
    @click.option("--allow-host", "allow", multiple=True, metavar="NAME",
                  help="A host name reviewers' browsers use for this server (the Host "
                       "header; the name behind a proxy), besides 127.0.0.1, localhost "
                       "and --host; a review may be posted from http:// or https:// "
                       "NAME. Repeatable. Requests naming another host are refused "
                       "(against DNS rebinding).")
    @click.option("--public-url", "public", multiple=True, metavar="URL",
                  help="The URL reviewers open when a proxy serves the page "
                       "(e.g. https://review.example.com): reviews are accepted from "
                       "that origin and its host name is allowed. Repeatable.")
    def serve(db: str | None, host: str, port: int, allow: tuple[str, ...],
              public: tuple[str, ...]) -> None:
        """Serve the reviewer's page: the open offboarding cases, each with
        the customer's figures, the rules that fired and why, strikes, the
        case history and the brief, and a form to approve or reject with a
        reason. Reviews follow the rules of `adieu approve` and `adieu
        reject` (the reviewer may not be the account owner; written to the
        audit trail), with the same messages; a review of a case that
        changed since the page showed it is refused. Stop with Ctrl-C.

        Needs the serve extra (pip install 'adieu[serve]'). Nobody signs
        in: whoever can open the page can review under any name, so keep
        it on 127.0.0.1 (the default) or behind a proxy that checks who
        the reviewer is, with --public-url (docs/ops-guide.md, "Reviewing
        in the browser")."""
        try:
            import uvicorn  # noqa: F401

            from ..serve import create_app
        except ImportError:
            raise InputError(INSTALL_HINT) from None
        origins = [public_origin(url) for url in public]
        names = allow + tuple(name for _, name in origins)
        if host.strip().lower() in EVERY_ADDRESS and not names:
            raise click.UsageError(f"--host {host} listens on every address: name the host "
                                   "names reviewers use with --allow-host NAME (or "
                                   "--public-url URL), so that other sites' names are "
                                   "refused (DNS rebinding)")
        path = resolve_db(db)
        with opened_store(path):  # there, a database, migrated: as every command
            pass
        refuse_unkeyed_writer(path)  # every review would fail: say so now
        app = create_app(path, allowed_hosts(host, names),
                         origins=[origin for origin, _ in origins] +
                         [f"{scheme}://{_bracketed(name.strip().lower())}"
                          for name in allow for scheme in ("http", "https")])
        sock = bind(host, port)
        port = sock.getsockname()[1]
        if not loopback(host):
            echo(f"warning: serving on {host}, not only this machine: anyone who can reach "
                 f"port {port} can see the cases and review them under any name", err=True)
        echo(f"adieu serve: reviewing {path} at http://{_bracketed(host)}:{port}/ "
             "(Ctrl-C stops)", err=True)
        try:
            run_server(app, sock)
        finally:
            sock.close()
