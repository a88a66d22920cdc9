import sys
from pathlib import Path

# the example models live beside this file; make them importable from the tests
sys.path.insert(0, str(Path(__file__).parent))
