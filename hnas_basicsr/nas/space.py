"""The HNAS search space as an ordered list of decisions (no torch).

Names and sizes only: the controller sees a list of ``Decision(name, size)`` and returns one index
per decision; :func:`decode` turns those indices into a :class:`Genotype` and :func:`encode` does the
reverse. Per cell and node the order is: input 1, input 2, op 1, op 2 (as the paper's controller
emits them); the network-level position comes last.
"""
import random
from typing import List, NamedTuple, Sequence

NUM_NODES = 4  # intermediate nodes per cell (B - 2 in the paper)
NORMAL_OPS = ('identity', 'dil_conv_3x3', 'dil_conv_5x5', 'sep_conv_3x3', 'sep_conv_5x5', 'udpb', 'rcab')
UPSAMPLING_OPS = ('area', 'bilinear', 'nearest', 'sub_pixel', 'deconvolution')
CELL_KINDS = ('normal', 'upsampling')
SCALES = (2, 3, 4)


class Decision(NamedTuple):
    name: str  # e.g. 'normal.node2.input1', 'upsampling.node3.op2', 'position'
    size: int  # number of choices


def cell_ops(kind: str) -> Sequence[str]:
    """The op vocabulary of a cell kind ('normal' or 'upsampling')."""
    return NORMAL_OPS if kind == 'normal' else UPSAMPLING_OPS


def cell_decisions(kind: str) -> List[Decision]:
    """The decisions of one cell, node by node: input 1, input 2, op 1, op 2."""
    decisions = []
    for node in range(2, NUM_NODES + 2):
        decisions += [Decision(f'{kind}.node{node}.input{k}', node) for k in (1, 2)]
        decisions += [Decision(f'{kind}.node{node}.op{k}', len(cell_ops(kind))) for k in (1, 2)]
    return decisions


def decisions(num_layers: int) -> List[Decision]:
    """All decisions of the space: the normal cell, the upsampling cell, then the position."""
    return cell_decisions('normal') + cell_decisions('upsampling') + [Decision('position', num_layers)]


def _decode_cell(kind, indices):
    ops = cell_ops(kind)
    nodes = []
    for k in range(NUM_NODES):
        in1, in2, op1, op2 = indices[4 * k:4 * k + 4]
        nodes.append(((ops[op1], in1), (ops[op2], in2)))
    return tuple(nodes)


def decode(indices: Sequence[int], num_layers: int):
    """Indices, one per decision of :func:`decisions`, -> validated Genotype (position = index + 1)."""
    from hnas_basicsr.nas.genotype import Genotype
    n = len(cell_decisions('normal'))
    expected = 2 * n + 1
    if len(indices) != expected:
        raise ValueError(f'expected {expected} decision indices, got {len(indices)}')
    indices = [int(i) for i in indices]
    genotype = Genotype(_decode_cell('normal', indices[:n]), _decode_cell('upsampling', indices[n:2 * n]),
                        indices[-1] + 1)
    return Genotype.from_dict(genotype.to_dict(), num_layers)


def encode(genotype) -> List[int]:
    """Genotype -> decision indices, the inverse of :func:`decode`."""
    indices = []
    for kind in CELL_KINDS:
        ops = cell_ops(kind)
        for (op1, in1), (op2, in2) in getattr(genotype, kind):
            indices += [in1, in2, ops.index(op1), ops.index(op2)]
    return indices + [genotype.position - 1]


def identity_edges(genotype) -> int:
    """The number of identity edges of the genotype's normal cell (parameter-free: see ``max_identity``)."""
    return sum(op == 'identity' for node in genotype.normal for op, _ in node)


def check_max_identity(value):
    """Raise ValueError unless ``value`` is None or a number of normal-cell edges (0 .. 2 * NUM_NODES)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or
                              not 0 <= value <= 2 * NUM_NODES):
        raise ValueError(f'max_identity: expected null or an integer from 0 to {2 * NUM_NODES}, got {value!r}')


def random_genotype(num_layers: int, rng: random.Random = None, max_identity: int = None):
    """A uniformly random architecture of the space (the random-search baseline's sampler); with ``max_identity``,
    of the architectures with at most that many identity edges in the normal cell (by rejection: uniform there)."""
    check_max_identity(max_identity)
    rng = rng or random.Random()
    while True:
        genotype = decode([rng.randrange(d.size) for d in decisions(num_layers)], num_layers)
        if max_identity is None or identity_edges(genotype) <= max_identity:
            return genotype
