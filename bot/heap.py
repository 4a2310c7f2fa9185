"""Keep the garbage collector's pauses short in long-running processes.

A warmed server holds about 160,000 objects the cyclic collector tracks: the dialogues, the
catalogs, the NLU models, the ORM's mappers, the web app's routes. They live as long as the
process, yet every full collection walked all of them: 85-130 ms each under load on this
project's 2-core machine, every few seconds, with no webhook answered meanwhile. Freezing them
once start-up is done leaves each collection only the objects made since (7-16 ms).
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect the garbage start-up left, then move every surviving object to the permanent
    generation (`gc.freeze`). Call it once, last thing
    before serving: whatever is made later is collected as usual."""
    gc.collect()
    gc.freeze()
