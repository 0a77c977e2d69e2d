import os
import sys

import numpy as np
import pytest

# The tests run against the package built into the build tree (PYTHONPATH=<build>/python) or an
# installed one; this file adds nothing to the path but the references beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
