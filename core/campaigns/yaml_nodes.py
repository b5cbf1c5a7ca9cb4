"""What a campaign file's YAML node tree may hold before it is turned into data, and the error that says where it
does not.

YAML can say more than a campaign needs, and some of it takes the loader down instead of giving a message: an
alias inside the structure it names never ends, aliases of aliases repeat a few lines into billions of values (the
"billion laughs"), and deep nesting exhausts Python's recursion. A key that is no text (``1:``, ``no:`` which YAML
reads as false, ``? [a]``) would reach the schema as something no field is called. Each is refused here, on the
node's own line, with its field path, before any data is built from the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

# Campaign files nest about eight levels deep; a hundred-campaign folder holds a few thousand values per file.
MAX_DEPTH = 50
MAX_VALUES = 100_000

STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"
VALUE_TAG = "tag:yaml.org,2002:value"
_KEY_TAGS = {STR_TAG, MERGE_TAG, VALUE_TAG}
# What YAML reads a plain key as, in words; "no", "off" and friends surprise people most.
_TAG_WORDS = {
    "tag:yaml.org,2002:bool": "true or false (YAML reads yes/no/on/off/true/false so)",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "nothing (an empty key, ~ or null)",
    "tag:yaml.org,2002:timestamp": "a date",
}

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class NodeProblem:
    """Something in the YAML itself that a campaign file cannot hold: its line (1-based), field path and what is
    wrong."""

    line: int | None
    path: Path
    message: str


class YAMLContentError(yaml.YAMLError):
    """Valid YAML that cannot become campaign data; ``problems`` say where and why."""

    def __init__(self, problems: list[NodeProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {p.line}: {p.message}" for p in problems))


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def shown(value: Any, limit: int = 60) -> str:
    """``value`` as it appears in a message: quoted, and cut short when long."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _step(key_node: yaml.Node) -> str:
    return str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"


def _children(node: yaml.Node) -> list[tuple[str | int | None, yaml.Node]]:
    """A node's child nodes with the path step to each; a key node's step is None (it belongs to its mapping)."""
    if isinstance(node, yaml.MappingNode):
        out: list[tuple[str | int | None, yaml.Node]] = []
        for key_node, value_node in node.value:
            out += [(None, key_node), (_step(key_node), value_node)]
        return out
    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    return []


def _key_problem(key_node: yaml.Node, path: Path) -> NodeProblem:
    """What is wrong with a key that is no text, in the mapping at ``path``."""
    if not isinstance(key_node, yaml.ScalarNode):
        return NodeProblem(
            line_of(key_node), path, "a key must be a name, not a list or a mapping (a '?' key or a key in brackets)"
        )
    what = _TAG_WORDS.get(key_node.tag, f"the type {key_node.tag}")
    return NodeProblem(
        line_of(key_node),
        (*path, str(key_node.value)),
        f"the key {shown(key_node.value)} is read as {what}, not as a name; put it in quotes if it is one",
    )


def check_tree(root: yaml.Node, has_anchors: bool = True) -> list[NodeProblem]:
    """Problems of the tree under ``root`` that would keep it from becoming data (empty when there are none).

    ``has_anchors=False`` (a text without '&' can have no anchor, so no alias) takes a walk that only looks at
    depth and keys: every campaign file is checked at each start-up, and that walk costs a fraction of the other.
    """
    return _check_shared_tree(root) if has_anchors else _check_plain_tree(root)


def _check_plain_tree(root: yaml.Node) -> list[NodeProblem]:
    """Depth and keys of a tree in which every node has one parent; paths are found only for a problem."""
    problems: list[NodeProblem] = []
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return [_too_deep(node, path_to(root, node) or ())]
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.tag not in _KEY_TAGS or not isinstance(key_node, yaml.ScalarNode):
                    problems.append(_key_problem(key_node, path_to(root, node) or ()))
                stack.append((value_node, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
    return problems


def _check_shared_tree(root: yaml.Node) -> list[NodeProblem]:
    """Depth and keys, and the aliases: one walk over the distinct nodes (an alias is the node it names), summing
    each node's height and the number of values it stands for (its aliases counted out in full) from its
    children, so a billion laughs is measured without being expanded. A node met again while its own children are
    being walked is an alias inside itself."""
    height: dict[int, int] = {}
    values: dict[int, int] = {}
    open_nodes: set[int] = set()
    problems: list[NodeProblem] = []
    stack: list[tuple[yaml.Node, Path, bool]] = [(root, (), False)]
    while stack:
        node, path, children_done = stack.pop()
        key = id(node)
        kids = _children(node)
        if children_done:
            open_nodes.discard(key)
            height[key] = 1 + max((height[id(kid)] for _, kid in kids), default=0)
            values[key] = 1 + sum(values[id(kid)] for _, kid in kids)
            if values[key] > MAX_VALUES:
                message = (
                    f"this holds more than {MAX_VALUES:,} values once its aliases (*name) are repeated out; "
                    "a campaign file never needs that many"
                )
                return [NodeProblem(line_of(node), path, message)]
            continue
        if key in open_nodes:
            # An alias has no mark of its own: the line is its anchor's, the path the alias's.
            message = "this alias (*name) refers to the structure it is part of, anchored on this line: it never ends"
            return [NodeProblem(line_of(node), path, message)]
        if len(path) + height.get(key, 1) > MAX_DEPTH:
            return [_too_deep(node, path)]
        if key in height:
            continue  # an alias of a node already measured
        open_nodes.add(key)
        stack.append((node, path, True))
        for step, kid in reversed(kids):
            if step is None and (kid.tag not in _KEY_TAGS or not isinstance(kid, yaml.ScalarNode)):
                problems.append(_key_problem(kid, path))
            stack.append((kid, path if step is None else (*path, step), False))
    return problems


def _too_deep(node: yaml.Node, path: Path) -> NodeProblem:
    return NodeProblem(line_of(node), path, f"this is nested more than {MAX_DEPTH} levels deep")


def path_to(root: yaml.Node, target: yaml.Node) -> Path | None:
    """The field path of ``target`` in the tree under ``root`` (None when it is not there): to name the field of a
    value that could not be built."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, Path]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        for step, kid in _children(node):
            stack.append((kid, path if step is None else (*path, step)))
    return None
