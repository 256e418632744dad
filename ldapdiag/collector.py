"""How often Python's cyclic garbage collector runs, for one ldapdiag process."""

from __future__ import annotations

import gc

# A full collection rescans every live object; an audit keeps tens of thousands of answers alive
# for its whole run (caches), and its garbage is freed by reference counting, not by the collector.
# Measured on the 10,000-entry bench directory (bench/audit_data.py): 23 full collections, 3.4 s
# of a ~22 s CPU run, 0 objects collected by them (450 in the whole run, all by the younger
# generations). One full collection per 100 second-generation passes instead of per 10: 2 of
# them (0.4 s).
FULL_COLLECTION_EVERY = 100
# The youngest generation is collected after this many more container objects are made than
# freed: objects that stay (the caches filling up), rarely garbage. CPython's 700 made 2,494 such
# passes and 226 of the second generation in the same audit (--jobs 1), 1.3-1.4 s together;
# 50,000 makes 11 and 1, 0.8-0.9 s, peak RSS unchanged (107 MiB).
NEW_OBJECTS_PER_COLLECTION = 50_000


def fewer_collections() -> None:
    """Collect the youngest generation after 50,000 new objects, not 700; full collections ten times rarer."""
    _first, second, _third = gc.get_threshold()
    gc.set_threshold(NEW_OBJECTS_PER_COLLECTION, second, FULL_COLLECTION_EVERY)


def skip_final_collection() -> None:
    """Leave every live object out of the full collection CPython runs while the process ends.

    It finds nothing worth freeing in a process that is going away (the operating system takes
    its memory back), yet it rescans every object still alive: 60-90 ms after a 10,000-key
    `lookup MAP -`, against ~17 ms with them frozen. Objects are still freed as their last
    reference goes, and atexit handlers still run."""
    gc.freeze()
