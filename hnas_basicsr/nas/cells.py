"""Cells: a cell built from one genotype, and the weight-sharing cell of the supernet.

Both take the outputs of cells k-2 and k-1 (``s0``, ``s1``; ``in_channels`` each), pass each through
ReLU -> 1x1 conv to C channels, run the nodes and concatenate the ``NUM_NODES`` node outputs (4C).
In a normal cell right after the upsampling cell, ``s0`` is still at low resolution: it is brought
to ``s1``'s size by parameter-free bilinear interpolation after its 1x1 conv. In an upsampling cell
the edges from the two inputs upsample by the network's scale; edges from intermediate nodes are
already at high resolution and run at stride 1.
"""
import torch
from torch import nn
from torch.nn import functional as F

from hnas_basicsr.nas.operations import build_op
from hnas_basicsr.nas.space import NUM_NODES, cell_ops


def _edge_scale(kind, source, scale):
    """Scale an op is built with: the network scale, but 1 for upsampling edges from inner nodes."""
    return scale if kind == 'normal' or source < 2 else 1


class _CellInputs(nn.Module):
    """ReLU -> 1x1 conv on both inputs; ``s0`` is resized to ``s1`` when their sizes differ."""

    def __init__(self, in_channels, channels):
        super().__init__()
        self.pre0 = nn.Sequential(nn.ReLU(), nn.Conv2d(in_channels, channels, 1))
        self.pre1 = nn.Sequential(nn.ReLU(), nn.Conv2d(in_channels, channels, 1))

    def forward(self, s0, s1):
        s0, s1 = self.pre0(s0), self.pre1(s1)
        if s0.shape[-2:] != s1.shape[-2:]:
            s0 = F.interpolate(s0, size=s1.shape[-2:], mode='bilinear', align_corners=False)
        return [s0, s1]


def run_nodes(states, nodes, edge):
    """Append the node outputs to ``states`` and return their concatenation.

    Args:
        states (list[Tensor]): The two preprocessed cell inputs.
        nodes: A cell genotype: per node two ``(op, input)`` edges.
        edge (callable): ``edge(node_offset, slot, op, source)`` -> the module of that edge.
    """
    for offset, node in enumerate(nodes):
        states.append(sum(edge(offset, slot, op, source)(states[source]) for slot, (op, source) in enumerate(node)))
    return torch.cat(states[2:], dim=1)


class Cell(nn.Module):
    """A cell of a derived network, built from one cell genotype.

    Args:
        kind (str): 'normal' or 'upsampling'.
        nodes: The cell genotype (``Genotype.normal`` or ``Genotype.upsampling``).
        in_channels (int): Channels of each cell input (4C).
        channels (int): C, channels of every op.
        scale (int): The network's upscale factor.
    """

    def __init__(self, kind, nodes, in_channels, channels, scale):
        super().__init__()
        self.kind, self.nodes = kind, tuple(nodes)
        self.inputs = _CellInputs(in_channels, channels)
        self.edges = nn.ModuleList(
            nn.ModuleList(build_op(kind, op, channels, _edge_scale(kind, source, scale)) for op, source in node)
            for node in self.nodes)

    def forward(self, s0, s1):
        return run_nodes(self.inputs(s0, s1), self.nodes, lambda offset, slot, op, source: self.edges[offset][slot])


class SharedCell(nn.Module):
    """The supernet's cell: every (node, input, op) edge of the space with its own weights.

    The architecture is chosen per call: ``forward(s0, s1, nodes)`` runs only the edges ``nodes``
    names. Both edges of a node that pick the same input and op share that edge's weights.
    """

    def __init__(self, kind, in_channels, channels, scale):
        super().__init__()
        self.kind = kind
        self.inputs = _CellInputs(in_channels, channels)
        self.edges = nn.ModuleDict({
            self.key(offset, source, op): build_op(kind, op, channels, _edge_scale(kind, source, scale))
            for offset in range(NUM_NODES) for source in range(offset + 2) for op in cell_ops(kind)
        })

    @staticmethod
    def key(offset, source, op):
        """ModuleDict key of the edge into node ``offset + 2`` from ``source`` with ``op``."""
        return f'n{offset + 2}_in{source}_{op}'

    def forward(self, s0, s1, nodes):
        return run_nodes(self.inputs(s0, s1), nodes,
                         lambda offset, slot, op, source: self.edges[self.key(offset, source, op)])
