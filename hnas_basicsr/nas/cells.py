"""Cells: a cell built from one genotype, and the weight-sharing cell of the supernet.

Both take the outputs of cells k-2 and k-1 (``s0``, ``s1``; ``in_channels`` each), pass each through
ReLU -> 1x1 conv (no bias) to C channels, run the nodes and concatenate the ``NUM_NODES`` node outputs
(4C). In an upsampling cell the edges from the two inputs upsample by the network's scale; edges from
intermediate nodes are already at high resolution and run at stride 1. (The cell after the upsampling
cell gets the upsampling cell's output as both inputs: see ``HNASStemTail.run_cells``.)

The supernet's cell can normalise as the authors' search supernet did: BatchNorm without affine
parameters after each input's 1x1 conv and after every op, by default on batch statistics in training
and evaluation alike (running averages are shared by every path through a layer and describe none of
them). The derived network (:class:`Cell`) has no normalisation.
"""
import torch
from torch import nn

from hnas_basicsr.nas.operations import build_op
from hnas_basicsr.nas.space import NUM_NODES, cell_ops


def _edge_scale(kind, source, scale):
    """Scale an op is built with: the network scale, but 1 for upsampling edges from inner nodes."""
    return scale if kind == 'normal' or source < 2 else 1


class CellBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that normalises a channels_last CPU input of fewer than 16 channels in NCHW (the output stays
    channels_last): PyTorch's channels_last CPU kernel is 2.6-4.6x slower there than the NCHW one plus the two
    layout copies, and less precise (``python bench/fast_ops.py --part norm``; 16 floats is the AVX-512 vector width
    of the CPU measured). Same parameters and state as BatchNorm2d."""

    def forward(self, x):
        if (self.num_features < 16 and x.device.type == 'cpu' and not x.is_contiguous()
                and x.is_contiguous(memory_format=torch.channels_last)):
            return super().forward(x.contiguous()).contiguous(memory_format=torch.channels_last)
        return super().forward(x)


def batch_norm(channels, track_running_stats=False):
    """The supernet's normalisation: BatchNorm without affine parameters, by default always on batch statistics."""
    return CellBatchNorm(channels, affine=False, track_running_stats=track_running_stats)


class _CellInputs(nn.Module):
    """ReLU -> 1x1 conv (no bias) on both inputs; with ``rectified`` the inputs are ReLU'd already and go straight
    to the convs (the network then rectifies each cell output once, for the two cells that read it)."""

    def __init__(self, in_channels, channels):
        super().__init__()
        self.pre0 = nn.Sequential(nn.ReLU(), nn.Conv2d(in_channels, channels, 1, bias=False))
        self.pre1 = nn.Sequential(nn.ReLU(), nn.Conv2d(in_channels, channels, 1, bias=False))

    def forward(self, s0, s1, rectified=False):
        if rectified:
            return [self.pre0[1](s0), self.pre1[1](s1)]
        return [self.pre0(s0), self.pre1(s1)]


def run_nodes(states, nodes, edge):
    """Append the node outputs to ``states`` and return their concatenation.

    Args:
        states (list[Tensor]): The two preprocessed cell inputs.
        nodes: A cell genotype: per node two ``(op, input)`` edges.
        edge (callable): ``edge(node_offset, slot, op, source)`` -> the module of that edge.
    """
    for offset, node in enumerate(nodes):
        first, second = (edge(offset, slot, op, source)(states[source]) for slot, (op, source) in enumerate(node))
        states.append(node_sum(first, second, states))
    return torch.cat(states[2:], dim=1)


def node_sum(first, second, states):
    """``first + second``, added into ``first`` when that is a fresh tensor (not a state passed on unchanged by an
    identity edge, not a view): one pass over the node's memory instead of a new allocation (no op's backward needs
    its own output, so autograd allows it)."""
    if first._base is None and not any(first is state for state in states):
        return first.add_(second)
    return first + second


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

    def forward(self, s0, s1, rectified=False):
        return run_nodes(self.inputs(s0, s1, rectified), self.nodes,
                         lambda offset, slot, op, source: self.edges[offset][slot])


class SharedCell(nn.Module):
    """The supernet's cell: every (node, input, op) edge of the space with its own weights.

    The architecture is chosen per call: ``forward(s0, s1, nodes)`` runs only the edges ``nodes``
    names. Both edges of a node that pick the same input and op share that edge's weights.
    With ``normalize``, both inputs and every edge's output pass through a :func:`batch_norm` of their own
    (no parameters; with ``track_running_stats``, running averages that ``eval()`` then uses).
    """

    def __init__(self, kind, in_channels, channels, scale, normalize=False, track_running_stats=False):
        super().__init__()
        self.kind = kind
        self.inputs = _CellInputs(in_channels, channels)
        keys = {self.key(offset, source, op): (source, op)
                for offset in range(NUM_NODES) for source in range(offset + 2) for op in cell_ops(kind)}
        self.edges = nn.ModuleDict(
            {key: build_op(kind, op, channels, _edge_scale(kind, source, scale)) for key, (source, op) in keys.items()})
        self.norms = nn.ModuleDict({key: batch_norm(channels, track_running_stats)
                                    for key in ['in0', 'in1', *keys]}) if normalize else None

    @staticmethod
    def key(offset, source, op):
        """ModuleDict key of the edge into node ``offset + 2`` from ``source`` with ``op``."""
        return f'n{offset + 2}_in{source}_{op}'

    def _edge(self, key):
        op = self.edges[key]
        return op if self.norms is None else lambda x: self.norms[key](op(x))

    def forward(self, s0, s1, nodes, rectified=False):
        states = self.inputs(s0, s1, rectified)
        if self.norms is not None:
            states = [self.norms['in0'](states[0]), self.norms['in1'](states[1])]
        return run_nodes(states, nodes, lambda offset, slot, op, source: self._edge(self.key(offset, source, op)))
