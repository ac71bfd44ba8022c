"""Hardware test rigs: the pytest plugin (on pytest-embedded) and labgrid board farms.

    pytest --tinydeploy-board qemu-m4 examples/tests/          # fixtures: deployed_model, tinydeploy_board
    pytest --lg-env examples/labgrid/env.yaml -n 2 examples/tests/
    deploy verify --labgrid-place qemu-a ...                    # rig.labgrid_place.acquired_place

Modules: firmware_cache (build once per model/board/runtime, shared across xdist workers),
qemu_service (pytest-embedded's QEMU service for Arm MPS2 machines), devices (the sessions the plugin
hands to tests), labgrid_place (acquire/release a labgrid place), pytest_plugin (fixtures, options,
marker, reports).  pytest-embedded and labgrid are optional: `pip install -e .[rig]`.
"""
