"""HNASSuperNet: the two-branch weight-sharing super network searched by HNAS."""
from functools import partial

from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from hnas_basicsr.archs.hnas_arch import HNASNet, HNASStemTail
from hnas_basicsr.nas.cells import SharedCell
from hnas_basicsr.nas.genotype import Genotype
from hnas_basicsr.nas.space import NUM_NODES


@ARCH_REGISTRY.register()
class HNASSuperNet(HNASStemTail):
    """At each of the L layers a normal and an upsampling :class:`SharedCell`; one path runs per call.

    The architecture is set with :meth:`set_genotype` (or passed to ``forward``); forward then runs
    only that path: layers before the position use their normal cell at low resolution, the layer
    at the position its upsampling cell (once), the layers after it their normal cell at high
    resolution. A layer's normal cell has one set of weights for both resolutions.

    With ``normalize`` (the default), the supernet is normalised as the authors' search supernet was:
    BatchNorm with affine parameters after the head conv, and BatchNorm without them after each cell
    input's 1x1 conv and after every op, by default always on the batch's statistics (in ``train()`` and
    ``eval()`` alike), so an architecture is scored the same in either mode. :meth:`extract` gives the plain
    :class:`HNASNet` either way: without normalisation its output equals the path's; with it, the weights are
    copied and the normalisation left out.

    Args:
        num_feat (int): C, channels of every op during the search. Default: 8 (the paper).
        normalize (bool): BatchNorm as the authors' search supernet. Default: True.
        track_running_stats (bool): Keep running averages in the normalisation, which ``eval()`` then uses
            instead of the batch's statistics (scores worse: see the README). Default: False.
        **kwargs: The other arguments of :class:`HNASNet` (``num_in_ch``, ``num_out_ch``, ``num_layers``,
            ``upscale``, ``img_range``, ``rgb_mean``, ``global_skip``, ``cell_residual``), with its defaults.
    """

    def __init__(self, num_feat=8, normalize=True, track_running_stats=False, **kwargs):
        super().__init__(num_feat=num_feat, **kwargs)
        for name, value in (('normalize', normalize), ('track_running_stats', track_running_stats)):
            if not isinstance(value, bool):
                raise ValueError(f'{name}: expected true or false, got {value!r}')
        width, num_layers, upscale = NUM_NODES * num_feat, self.hparams['num_layers'], self.hparams['upscale']
        self.head_norm = nn.BatchNorm2d(width, track_running_stats=track_running_stats) if normalize else nn.Identity()
        self.normal_cells = nn.ModuleList(
            SharedCell('normal', width, num_feat, upscale, normalize, track_running_stats) for _ in range(num_layers))
        self.upsampling_cells = nn.ModuleList(
            SharedCell('upsampling', width, num_feat, upscale, normalize, track_running_stats)
            for _ in range(num_layers))
        self.genotype = None

    def head(self, x):
        return self.head_norm(super().head(x))

    @property
    def num_layers(self):
        return self.hparams['num_layers']

    def set_genotype(self, genotype):
        """Select the path that ``forward`` runs (a Genotype or its mapping)."""
        self.genotype = Genotype.from_dict(genotype, self.num_layers)

    def path_cells(self, genotype):
        """(shared cell, cell genotype) for each layer of ``genotype``'s path."""
        return [(self.upsampling_cells[k], genotype.upsampling) if k + 1 == genotype.position else
                (self.normal_cells[k], genotype.normal) for k in range(self.num_layers)]

    def forward(self, x, genotype=None):
        genotype = self.genotype if genotype is None else Genotype.from_dict(genotype, self.num_layers)
        if genotype is None:
            raise RuntimeError('HNASSuperNet: no architecture set; call set_genotype(genotype) first')
        return self.run_cells(x, [partial(cell, nodes=nodes) for cell, nodes in self.path_cells(genotype)])

    def extract(self, genotype) -> HNASNet:
        """The stand-alone :class:`HNASNet` of ``genotype``'s path, with this supernet's weights copied in."""
        genotype = Genotype.from_dict(genotype, self.num_layers)
        net = HNASNet(genotype.to_dict(), init='pytorch', **self.hparams).to(self.conv_first.weight.device)
        state = {}
        for prefix in ('sub_mean', 'add_mean', 'conv_first', 'conv_last'):
            state.update({f'{prefix}.{k}': v for k, v in getattr(self, prefix).state_dict().items()})
        for layer, (cell, nodes) in enumerate(self.path_cells(genotype)):
            state.update({f'cells.{layer}.inputs.{k}': v for k, v in cell.inputs.state_dict().items()})
            for offset, node in enumerate(nodes):
                for slot, (op, source) in enumerate(node):
                    edge = cell.edges[cell.key(offset, source, op)]
                    state.update({f'cells.{layer}.edges.{offset}.{slot}.{k}': v for k, v in edge.state_dict().items()})
        net.load_state_dict(state)
        return net
