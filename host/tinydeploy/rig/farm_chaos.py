"""pytest plugin for the farm demo and its test: take a labgrid place away in the middle of a run.

    TINYDEPLOY_FARM_STATE=<farm.json> TINYDEPLOY_TAKE_AWAY=qemu-b:2 pytest -p tinydeploy.rig.farm_chaos ...

On the worker holding place `qemu-b`, right before the body of its test number 2 (0-based) runs, the
place's serial server and board are killed (the pids come from the LoopbackFarm state file): what a
test sees when a rig host dies.  The run must report it and carry on, not hang.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

_seen = 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    global _seen
    spec, state = os.environ.get("TINYDEPLOY_TAKE_AWAY", ""), os.environ.get("TINYDEPLOY_FARM_STATE", "")
    if not spec or not state:
        return
    from tinydeploy.rig.pytest_plugin import RIG_KEY

    place, _, after = spec.partition(":")
    rig = item.config.stash.get(RIG_KEY, None)
    if rig is None or rig.place != place:
        return
    if _seen == int(after or 0):
        pids = json.load(open(state))["places"][place]["pids"]
        for key in ("ser2net", "qemu"):
            try:
                os.killpg(pids[key], signal.SIGKILL)
            except ProcessLookupError:
                pass
        item.user_properties.append(("tinydeploy_farm_took_away", place))
    _seen += 1
