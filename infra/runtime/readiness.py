"""Whether the local runtime's processes serve: what starting it waits for.

A process is ready when its port accepts connections and, where its plan names a
``ready_path``, that path answers 200 over HTTPS. A process the supervisor reports as not meant
to run (its workload is absent or scaled to 0) is never waited for.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.request

from infra.runtime.folder import RuntimeFolder
from infra.runtime.plan import Process
from infra.runtime.supervisor import IDLE_STATES

__all__ = ["idle_processes", "port_open", "ready"]


def port_open(port: int) -> bool:
    """Something accepts connections on ``127.0.0.1:port``."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def idle_processes(folder: RuntimeFolder) -> set[str]:
    """The processes the supervisor reports as not meant to run (their workload is absent or
    scaled to 0): nothing to wait for."""
    try:
        status = json.loads(folder.status.read_text())
    except (OSError, ValueError):
        return set()
    processes = status.get("processes") if isinstance(status, dict) else None
    return {
        name
        for name, info in (processes or {}).items()
        if isinstance(info, dict) and info.get("state") in IDLE_STATES
    }


def ready(process: Process) -> bool:
    """The process's readiness: its port accepts connections, and its ``ready_path`` (HTTPS,
    a self-signed certificate: not verified, this is liveness, not trust) answers 200."""
    port = process.ready_port or 0
    if not port_open(port):
        return False
    if process.ready_path is None:
        return True
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    url = f"https://127.0.0.1:{port}{process.ready_path}"
    # No proxy from the environment: this is the loopback.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False
