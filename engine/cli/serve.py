"""adieu serve: the reviewer's web page (engine/serve.py), run by uvicorn."""

from __future__ import annotations

import ipaddress

import click

from ..errors import InputError
from ..safe_text import echo
from .common import db_option, opened_store, resolve_db

INSTALL_HINT = "adieu serve needs the serve extra: pip install 'adieu[serve]'"


def loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1,
    localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str) -> list[str]:
    """The Host header values the app accepts when bound to `host`: the
    loopback names, and the host itself; any host when bound to every
    interface (0.0.0.0, ::), where the server cannot know its names."""
    if host in ("0.0.0.0", "::", "[::]", ""):
        return ["*"]
    if ":" in host and not host.startswith("["):  # an IPv6 address: [::1] in a Host header
        host = f"[{host}]"
    return sorted({"127.0.0.1", "localhost", host.lower()})


def register(cli: click.Group) -> None:
    @cli.command("serve")
    @db_option
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="The address to listen on. Anything but this machine's own "
                       "(127.0.0.1, ::1, localhost) lets others on the network reach "
                       "the page: a warning is printed.")
    @click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
                  help="The TCP port to listen on.")
    def serve(db: str | None, host: str, port: int) -> None:
        """Serve the reviewer's page: the open offboarding cases, each with
        the customer's figures, the rules that fired and why, strikes, the
        case history and the brief, and a form to approve or reject with a
        reason. Reviews follow the rules of `adieu approve` and `adieu
        reject` (the reviewer may not be the account owner; written to the
        audit trail), with the same messages. Stop with Ctrl-C.

        Needs the serve extra (pip install 'adieu[serve]'). Nobody signs
        in: whoever can open the page can review under any name, so keep
        it on 127.0.0.1 (the default) or behind a proxy that checks who
        the reviewer is (docs/ops-guide.md, "Reviewing in the browser")."""
        try:
            import uvicorn

            from ..serve import create_app
        except ImportError:
            raise InputError(INSTALL_HINT) from None
        path = resolve_db(db)
        with opened_store(path):  # there, a database, migrated: as every command
            pass
        if not loopback(host):
            echo(f"warning: serving on {host}, not only this machine: anyone who can reach "
                 f"port {port} can see the cases and review them under any name", err=True)
        shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
        echo(f"adieu serve: reviewing {path} at http://{shown}:{port}/ (Ctrl-C stops)",
             err=True)
        uvicorn.run(create_app(path, allowed_hosts(host)), host=host.strip("[]"), port=port,
                    log_level="warning")
