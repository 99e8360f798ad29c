"""reuse_freed_memory: repeated forward passes of an HNAS network mostly stop faulting their activations in anew."""
import subprocess
import sys

PROBE = '''
import resource, sys
import torch
from hnas_basicsr.allocator import reuse_freed_memory
if sys.argv[1] == 'reuse':
    assert reuse_freed_memory()
from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.nas.genotype import published_genotypes
net = HNASNet(dict(published_genotypes()['HNAS_A'].to_dict(), position=3), num_feat=16, num_layers=4).eval()
x = torch.rand(1, 3, 160, 160)
with torch.no_grad():
    net(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        net(x)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
'''


def page_faults(mode):
    out = subprocess.run([sys.executable, '-c', PROBE, mode], capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1])


def test_freed_memory_is_reused_instead_of_mapped_again():
    default, reused = page_faults('glibc'), page_faults('reuse')
    assert default > 30000  # (by default every large activation is a fresh mapping, faulted in page by page)
    assert reused < default / 4
