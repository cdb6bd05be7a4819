"""YAML read with the line of every key and item, and duplicate keys refused: so that a
problem in a runbook file is reported as `file:line`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


class LinedDict(dict[str, Any]):
    line = 1
    key_lines: dict[str, int]


class LinedList(list[Any]):
    line = 1
    item_lines: list[int]


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(f"key `{key}` appears twice in the same mapping")
        self.line = line


class LinedLoader(yaml.SafeLoader):
    pass


def _mapping(loader: LinedLoader, node: yaml.MappingNode) -> LinedDict:
    result = LinedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise DuplicateKey(str(key), key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _sequence(loader: LinedLoader, node: yaml.SequenceNode) -> LinedList:
    result = LinedList(loader.construct_object(item, deep=True) for item in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    return result


LinedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
LinedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def line_of(raw: Any, loc: Iterable[str | int]) -> int:
    """The line of the deepest part of `loc` that exists in the parsed YAML."""
    line, node = getattr(raw, "line", 1), raw
    for part in loc:
        if isinstance(node, LinedDict) and part in node:
            line, node = node.key_lines[str(part)], node[str(part)]
        elif isinstance(node, LinedList) and isinstance(part, int) and 0 <= part < len(node):
            line, node = node.item_lines[part], node[part]
        else:
            break
    return line
