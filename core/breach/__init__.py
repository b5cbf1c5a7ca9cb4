"""The data-breach index: which phone numbers a leak holds and which kinds of data it leaked with each, kept as
keyed digests and bitmasks only (issue 19).

A campaign declares the leaks it checks against (:mod:`core.breach.datasets`, through the ``breach_check`` plugin);
``flask breach import`` turns a leaked dump into one index file per dataset (:mod:`core.breach.importer`), written
in the format of :mod:`core.breach.index_file`; a number is looked up by its keyed digest
(:mod:`core.breach.numbers`) after normalising it to E.164 (:mod:`core.breach.phones`). The leaked values themselves
are never kept anywhere: an index holds per record an 8-byte digest and a 2-byte mask of categories
(:mod:`core.breach.categories`).
"""
