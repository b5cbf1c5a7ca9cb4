"""Parse one YAML document into its node tree (for line numbers) and its data, in one pass, with libyaml when
PyYAML has it.

Every app parses every campaign file when it starts (and again on each reload); PyYAML's pure-Python parser made
that most of the start-up time. libyaml's parser gives the same nodes, with the same marks, some thirty times
faster; the data is still built by PyYAML's SafeConstructor. Anything libyaml refuses is parsed again by the
pure-Python parser, so a broken file is explained by the same messages as before.

Between the two steps the node tree is checked (:mod:`core.campaigns.yaml_nodes`), and building the data can only
fail with a YAML error: PyYAML's constructor lets Python's own errors through for values it reads but cannot build
(``2026-02-30``, a time at 25:00, a number of more than 4300 digits, ``!!int abc``), which gave a traceback instead
of a message. Those become a :class:`~core.campaigns.yaml_nodes.YAMLContentError` on the value's own line.
"""

from __future__ import annotations

from typing import Any

import yaml

from core.campaigns.yaml_nodes import (
    MERGE_TAG,
    NodeProblem,
    YAMLContentError,
    check_tree,
    line_of,
    path_to,
    shown,
)

# What a tag's value was read as, for the message when it cannot be built.
_EXPECTED = {
    "tag:yaml.org,2002:timestamp": "is not a date (or date and time) that exists",
    "tag:yaml.org,2002:int": "cannot be read as a whole number",
    "tag:yaml.org,2002:float": "cannot be read as a number",
    "tag:yaml.org,2002:bool": "cannot be read as true or false",
}


class _Unbuildable(yaml.YAMLError):
    """A node whose value PyYAML read but could not build (it raised a Python error, not a YAML one)."""

    def __init__(self, node: yaml.Node, error: Exception) -> None:
        self.node = node
        self.error = error
        super().__init__(str(error))


def _copy(node: yaml.Node) -> yaml.Node:
    """A mapping or sequence node with its own list of children (anything else as it is)."""
    if isinstance(node, yaml.MappingNode):
        return yaml.MappingNode(node.tag, list(node.value), node.start_mark, node.end_mark, node.flow_style)
    if isinstance(node, yaml.SequenceNode):
        return yaml.SequenceNode(node.tag, [_copy(item) for item in node.value], node.start_mark, node.end_mark)
    return node


class _Building:
    """SafeConstructor's building, made to fail only with YAML errors and to leave the node tree as written."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except Exception as exc:  # the innermost node that failed; its parents pass the YAML error on
            raise _Unbuildable(node, exc) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        # Mappings are filled in after construct_object returned (SafeConstructor's generators): a Python error
        # while filling one is this node's.
        try:
            # SafeConstructor writes '<<' merges into the mapping node in place: the kept tree would then hold
            # every merged key beside the mapping's own, and a key overriding a merged one would look written twice.
            if isinstance(node, yaml.MappingNode) and any(key.tag == MERGE_TAG for key, _ in node.value):
                node = _copy(node)  # type: ignore[assignment]
            return super().construct_mapping(node, deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except Exception as exc:
            raise _Unbuildable(node, exc) from None

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # ``node`` is a copy; what it merges is flattened in turn, so copy that too.
        node.value = [(k, _copy(v) if k.tag == MERGE_TAG else v) for k, v in node.value]
        super().flatten_mapping(node)  # type: ignore[misc]


_PLAIN_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CarefulFast(_Building, _PLAIN_FAST):  # type: ignore[misc]
    pass


class _CarefulPure(_Building, yaml.SafeLoader):  # type: ignore[misc]
    pass


def _parse_with(loader_class: Any, text: str) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        problems = check_tree(root, has_anchors="&" in text)
        if problems:
            raise YAMLContentError(problems)
        try:
            return root, loader.construct_document(root)
        except _Unbuildable as exc:
            raise YAMLContentError([_unbuildable(root, exc)]) from None
    finally:
        loader.dispose()


def _unbuildable(root: yaml.Node, exc: _Unbuildable) -> NodeProblem:
    node = exc.node
    what = _EXPECTED.get(node.tag, f"cannot be read as {node.tag}")
    value = shown(node.value) if isinstance(node, yaml.ScalarNode) else "this"
    detail = str(exc.error).split("\n")[0][:120]
    hint = "; put it in quotes if it is meant as text" if isinstance(node, yaml.ScalarNode) else ""
    return NodeProblem(line_of(node), path_to(root, node) or (), f"{value} {what} ({detail}){hint}")


def _reader_problem(text: str, exc: yaml.reader.ReaderError) -> NodeProblem:
    """A character YAML does not allow in a file (NUL, most control characters), on its line."""
    character = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return NodeProblem(
        text.count("\n", 0, exc.position) + 1,
        (),
        f"holds the character U+{character:04X}, which a YAML file may not hold; delete it",
    )


def parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The root node (None for an empty document) and the data of the single YAML document in ``text``, as
    ``yaml.compose`` and ``yaml.safe_load`` would give them; raises :class:`yaml.YAMLError` as they would, and
    :class:`~core.campaigns.yaml_nodes.YAMLContentError` for valid YAML that cannot become campaign data."""
    try:
        # The pure-Python reader refuses control characters; libyaml does not check them, so check them first.
        yaml.reader.Reader(text)
    except yaml.reader.ReaderError as exc:
        raise YAMLContentError([_reader_problem(text, exc)]) from None
    # Most files have no merge key and no value that cannot be built: their data is built by PyYAML's own classes,
    # a quarter faster than by the careful ones (start-up builds every file). A merge key is written '<<' or tagged
    # (!!merge, !<tag:yaml.org,2002:merge>); a file that fails to build is built again carefully, to name the value.
    careful = "<<" in text or "!merge" in text or ":merge" in text
    try:
        return _parse_with(_CarefulFast if careful else _PLAIN_FAST, text)
    except YAMLContentError:
        raise
    except yaml.YAMLError as refused:
        try:
            return _parse_with(_CarefulPure, text)  # raises with the pure-Python parser's message
        except RecursionError:
            # libyaml stops at 1000 levels of nesting; the pure-Python parser recurses through them and fails
            # with Python's own error: libyaml's message says it.
            raise refused from None
    except Exception:
        return _parse_with(_CarefulFast, text)  # raises YAMLContentError naming the value
