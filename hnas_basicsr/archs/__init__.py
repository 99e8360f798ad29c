"""The plugin's networks; importing this package registers every `*_arch.py` file's classes in BasicSR."""
from hnas_basicsr.registry import import_modules

import_modules(__name__, '_arch.py')
