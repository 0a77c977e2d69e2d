"""The README's Python example runs as written (in a scratch directory) and prints what it says."""
import os
import re
import subprocess
import sys

import attend

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_readme_python_example_runs(tmp_path):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)
    assert blocks, "README.md has no ```python block"
    code = blocks[0]
    assert len(code.strip().splitlines()) == 5
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, ATTEND_NUM_THREADS="1",
                                  PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(attend.__file__)))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["6", "5", "4", "3", "2", "1", "(2,", "8,", "256,", "256)"], out.stdout
