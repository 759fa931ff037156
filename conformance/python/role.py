#!/usr/bin/env python3
"""The Python role of the conformance suite (conformance/python/README.md):

    python3 conformance/python/role.py --list
    python3 conformance/python/role.py <scenario> <role> stdio
    python3 conformance/python/role.py <scenario> <role> listen <address>
    python3 conformance/python/role.py <scenario> <role> connect <address>

It plays one role of one scenario of conformance/scenarios.json with ipfi for Python (python/ipfi,
on PYTHONPATH), and reports on fd 3: ``{"listening": address}`` once listening, ``{"mark": name}``
at the scenario's marks, and last ``{"verdict": "pass" | "fail", ...}``. Exit code 0 on pass. It
logs to stderr only: over stdio, stdout carries the link's frames.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ipfi  # noqa: E402
from ipfi import at_exit  # noqa: E402
from kit import SCENARIOS, Role, format_exc  # noqa: E402
import channels  # noqa: E402
import hostile  # noqa: E402
import procedures  # noqa: E402

IMPLEMENTED = {**channels.SCENARIOS, **procedures.SCENARIOS}
for _s in SCENARIOS["scenarios"]:
    _phase = _s["victim"].get("args", {}).get("phase") if _s.get("kind") == "hostile" else None
    if _phase in hostile.PHASES:
        IMPLEMENTED[_s["name"]] = {"victim": hostile.victim}
    elif _phase == "callee":
        IMPLEMENTED[_s["name"]] = {"victim": procedures.hostile_callee}


async def main(role: Role, play) -> bool:
    try:
        await play(role)
    except Exception as e:  # noqa: BLE001
        role.fail(f"the role threw: {format_exc(e)}")
    try:
        await role.close_server()
    except Exception as e:  # noqa: BLE001
        role.fail(f"closing the server: {e!r}")
    return role.verdict()


def run() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["--list"]:
        sys.stdout.write(json.dumps(list(IMPLEMENTED)) + "\n")
        return 0
    scenario_name, role_name, wire = (argv + [None, None, None])[:3]
    address = argv[3] if len(argv) > 3 else None
    scenario = next((s for s in SCENARIOS["scenarios"] if s["name"] == scenario_name), None)
    play = IMPLEMENTED.get(scenario_name or "", {}).get(role_name or "")
    if scenario is None or play is None or wire not in ("stdio", "listen", "connect") or (wire != "stdio" and not address):
        sys.stderr.write("usage: role.py --list | <scenario> <role> stdio | <scenario> <role> listen|connect <address>\n"
                         f"(no {scenario_name}.{role_name} over {wire})\n")
        return 2
    role = Role(scenario, role_name, wire, address)
    ok = asyncio.run(main(role, play))
    code = role.exit_code if ok else 1
    if code != 0:
        # Python's exit hooks are not told the exit code: say it, so that a link still open ends
        # with a GOODBYE naming the failure (lost), as a JS process exiting with this code does.
        at_exit.note_crash(SystemExit(code), f"exited with code {code}")
    return code


if __name__ == "__main__":
    sys.exit(run())
