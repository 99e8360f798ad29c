"""Genotype: one HNAS architecture as plain data (no torch).

A cell has ``NUM_NODES`` intermediate nodes; node ``i`` (numbered from 2, since 0 and 1 are the two
cell inputs: the outputs of cells k-2 and k-1) sums two edges, each an ``(op, input)`` pair whose
input is an earlier node. The network has one upsampling cell at ``position`` (1..L, counted from
the network input as in the paper); the other L-1 layers are normal cells.

On disk (YAML, the ``network_g.genotype`` of an option file)::

    normal:                      # one entry per intermediate node, two [op, input] edges each
      - [[identity, 1], [sep_conv_5x5, 1]]
      - ...
    upsampling:
      - [[deconvolution, 0], [bilinear, 0]]
      - ...
    position: 10
"""
import re
from dataclasses import dataclass
from typing import Optional, Tuple

from hnas_basicsr.nas.space import NORMAL_OPS, NUM_NODES, UPSAMPLING_OPS

Edge = Tuple[str, int]
Node = Tuple[Edge, Edge]
CellGenotype = Tuple[Node, ...]


class GenotypeError(ValueError):
    """A genotype mapping that does not describe a valid architecture; the message names the field."""


def _parse_cell(field, value, ops):
    if not isinstance(value, (list, tuple)):
        raise GenotypeError(f'{field}: expected a list of {NUM_NODES} nodes, got {type(value).__name__} {value!r}')
    if len(value) != NUM_NODES:
        raise GenotypeError(f'{field}: expected {NUM_NODES} nodes, got {len(value)}')
    nodes = []
    for offset, node in enumerate(value):
        node_id = offset + 2
        where = f'{field}[{offset}] (node {node_id})'
        if not isinstance(node, (list, tuple)) or len(node) != 2:
            raise GenotypeError(f'{where}: expected two [op, input] edges, got {node!r}')
        edges = []
        for slot, edge in enumerate(node):
            at = f'{where} edge {slot}'
            if not isinstance(edge, (list, tuple)) or len(edge) != 2:
                raise GenotypeError(f'{at}: expected [op, input], got {edge!r}')
            op, source = edge
            if not isinstance(op, str) or op not in ops:
                raise GenotypeError(f'{at}: unknown op {op!r}; expected one of {", ".join(ops)}')
            if isinstance(source, bool) or not isinstance(source, int):
                raise GenotypeError(f'{at}: input must be an integer node index, got {source!r}')
            if not 0 <= source < node_id:
                raise GenotypeError(f'{at}: input {source} is not an earlier node; expected 0..{node_id - 1}')
            edges.append((op, source))
        nodes.append(tuple(edges))
    return tuple(nodes)


@dataclass(frozen=True)
class Genotype:
    """A normal cell, an upsampling cell and the 1-based position of the upsampling cell."""
    normal: CellGenotype
    upsampling: CellGenotype
    position: int

    @classmethod
    def from_dict(cls, mapping, num_layers: Optional[int] = None) -> 'Genotype':
        """Build and validate a genotype from a plain mapping (as loaded from YAML).

        Args:
            mapping (dict): With keys ``normal``, ``upsampling`` and ``position``.
            num_layers (int | None): L; when given, ``position`` must lie in 1..L.

        Raises:
            GenotypeError: naming the field and the bad value.
        """
        if isinstance(mapping, Genotype):
            mapping = mapping.to_dict()
        if not isinstance(mapping, dict):
            raise GenotypeError(f'genotype: expected a mapping with normal, upsampling, position; got {mapping!r}')
        expected = {'normal', 'upsampling', 'position'}
        missing, unknown = expected - set(mapping), set(mapping) - expected
        if missing:
            raise GenotypeError(f'genotype: missing field(s) {", ".join(sorted(missing))}')
        if unknown:
            raise GenotypeError(f'genotype: unknown field(s) {", ".join(sorted(map(str, unknown)))}; '
                                'expected normal, upsampling, position')
        genotype = cls(
            normal=_parse_cell('genotype.normal', mapping['normal'], NORMAL_OPS),
            upsampling=_parse_cell('genotype.upsampling', mapping['upsampling'], UPSAMPLING_OPS),
            position=mapping['position'])
        genotype.check_position(num_layers)
        return genotype

    def check_position(self, num_layers: Optional[int] = None):
        """Raise GenotypeError unless ``position`` is an integer in 1..num_layers."""
        position = self.position
        if isinstance(position, bool) or not isinstance(position, int):
            raise GenotypeError(f'genotype.position: expected an integer 1..L, got {position!r}')
        if position < 1 or (num_layers is not None and position > num_layers):
            upper = num_layers if num_layers is not None else 'L'
            raise GenotypeError(f'genotype.position: {position} is outside 1..{upper} (positions count from 1)')

    def to_dict(self) -> dict:
        """Plain lists and ints, ready for ``yaml.safe_dump``."""

        def cell(nodes):
            return [[[op, source] for op, source in node] for node in nodes]

        return {'normal': cell(self.normal), 'upsampling': cell(self.upsampling), 'position': self.position}

    def describe(self) -> str:
        """One-line summary, e.g. for logs."""

        def cell(nodes):
            return ' | '.join(f'n{i + 2} ' + ' '.join(f'({op},{src})' for op, src in node) for i, node in enumerate(nodes))

        return f'normal: {cell(self.normal)} || upsampling: {cell(self.upsampling)} || position {self.position}'

    @classmethod
    def from_description(cls, text: str, num_layers: Optional[int] = None) -> 'Genotype':
        """The genotype that ``describe()`` printed as ``text`` (e.g. the genotype column of derive's ranking.csv)."""
        match = re.fullmatch(r'normal: (.*) \|\| upsampling: (.*) \|\| position (\d+)', text.strip())
        if not match:
            raise GenotypeError(f"genotype description: expected 'normal: ... || upsampling: ... || position N', "
                                f'got {text!r}')

        def cell(part):
            nodes = []
            for offset, node in enumerate(part.split(' | ')):
                edges = re.fullmatch(r'n(\d+)((?: \(\w+,\d+\))+)', node)
                if not edges or int(edges[1]) != offset + 2:
                    raise GenotypeError(f'genotype description: node {offset + 2} should read '
                                        f"'n{offset + 2} (op,input) (op,input)', got {node!r}")
                nodes.append([[op, int(source)] for op, source in re.findall(r'\((\w+),(\d+)\)', edges[2])])
            return nodes

        return cls.from_dict({'normal': cell(match[1]), 'upsampling': cell(match[2]), 'position': int(match[3])},
                             num_layers)


def published_genotypes() -> dict:
    """The paper's HNAS-A, HNAS-B and HNAS-C as ``{'HNAS_A': Genotype, ...}`` (L = 12)."""
    import os
    import yaml
    with open(os.path.join(os.path.dirname(__file__), 'published.yml')) as f:
        return {name: Genotype.from_dict(mapping, 12) for name, mapping in yaml.safe_load(f).items()}
