"""Per-op lowerings for the aot runtime: importing this package registers every one of them.

One module per op family; each module registers its ops with `@lowering(...)` from
tinydeploy.aot.lowering.  Add a module here by importing it below.
"""

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
