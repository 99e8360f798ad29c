"""A picture (PNG) of an architecture: the normal cell, the upsampling cell and the position."""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

_LABELS = ['k-2', 'k-1']


def _draw_cell(ax, nodes, title):
    n = len(nodes) + 2
    xy = {0: (0.0, 0.75), 1: (0.0, 0.25)}
    xy.update({i: (0.25 + 0.5 * (i - 2) / max(1, n - 3), 0.9 - 0.8 * (i - 2) / max(1, n - 3)) for i in range(2, n)})
    xy['out'] = (1.0, 0.5)
    for target, node in enumerate(nodes, start=2):
        for slot, (op, source) in enumerate(node):
            (x0, y0), (x1, y1) = xy[source], xy[target]
            ax.annotate('', (x1, y1), (x0, y0), arrowprops=dict(arrowstyle='->', color='tab:blue', lw=1,
                                                                connectionstyle=f'arc3,rad={0.15 - 0.3 * slot}'))
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + (0.03 if slot == 0 else -0.03), op, fontsize=7, ha='center',
                    color='tab:red')
        ax.annotate('', xy['out'], xy[target], arrowprops=dict(arrowstyle='->', color='0.6', lw=0.8))
    for key, (x, y) in xy.items():
        label = _LABELS[key] if key in (0, 1) else ('concat' if key == 'out' else str(key))
        ax.text(x, y, label, ha='center', va='center', fontsize=8,
                bbox=dict(boxstyle='round', fc='lightyellow' if key == 'out' else 'white', ec='0.3'))
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(0, 1)
    ax.axis('off')


def draw_genotype(genotype, num_layers, path, title=''):
    """Write a PNG of ``genotype``: both cells as DAGs, and the L layers with the upsampling position."""
    fig = plt.figure(figsize=(11, 5.5))
    grid = fig.add_gridspec(2, 2, height_ratios=[5, 1])
    _draw_cell(fig.add_subplot(grid[0, 0]), genotype.normal, 'normal cell')
    _draw_cell(fig.add_subplot(grid[0, 1]), genotype.upsampling, 'upsampling cell')
    ax = fig.add_subplot(grid[1, :])
    for layer in range(1, num_layers + 1):
        up = layer == genotype.position
        ax.add_patch(plt.Rectangle((layer - 0.45, 0.1), 0.9, 0.8, fc='tab:orange' if up else
                                   ('0.85' if layer < genotype.position else '0.6')))
        ax.text(layer, 0.5, 'U' if up else 'N', ha='center', va='center', fontsize=9)
    ax.set_xlim(0.3, num_layers + 0.7)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xticks(range(1, num_layers + 1))
    ax.set_xlabel(f'layer (upsampling cell at position {genotype.position} of {num_layers}; light: low resolution)')
    fig.suptitle(title)
    fig.savefig(path, dpi=100, bbox_inches='tight')
    plt.close(fig)
