"""The README section on numba (dualnum/README_JIT_SECTION.md): its code runs as shown."""
import pathlib
import re

SECTION = pathlib.Path(__file__).resolve().parents[1] / "dualnum" / "README_JIT_SECTION.md"


def test_readme_jit_section_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", SECTION.read_text(), re.S)
    assert blocks, "no python example in the section"
    scope = {}
    for block in blocks:
        exec(compile(block, str(SECTION), "exec"), scope)
    assert scope["J"].shape == (5, 5)
