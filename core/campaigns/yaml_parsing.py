"""Parse one YAML document into its node tree (for line numbers) and its data, in one pass, with libyaml when
PyYAML has it.

Every app parses every campaign file when it starts (and again on each reload); PyYAML's pure-Python parser made
that most of the start-up time. libyaml's parser gives the same nodes, with the same marks, some thirty times
faster; the data is still built by PyYAML's SafeConstructor. Anything libyaml refuses is parsed again by the
pure-Python parser, so a broken file is explained by the same messages as before.
"""

from __future__ import annotations

from typing import Any

import yaml

_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_with(loader_class: Any, text: str) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        return root, None if root is None else loader.construct_document(root)
    finally:
        loader.dispose()


def parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The root node (None for an empty document) and the data of the single YAML document in ``text``, as
    ``yaml.compose`` and ``yaml.safe_load`` would give them; raises :class:`yaml.YAMLError` as they would."""
    try:
        # The pure-Python reader refuses control characters; libyaml does not check them, so check them first.
        yaml.reader.Reader(text)
        return _parse_with(_FAST_LOADER, text)
    except yaml.YAMLError:
        return _parse_with(yaml.SafeLoader, text)  # raises with the pure-Python parser's message
