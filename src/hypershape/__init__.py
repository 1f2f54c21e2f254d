"""hypernet -> shape: a shape read off the weights of networks fitted to its pictures."""

import os

# Bitwise-reproducible CPU numbers: with dynamic threading MKL/OpenMP may use fewer threads when the machine is
# busy, and another split of a matrix product changes its last bits, which a SIREN's sin(30 x) magnifies (a
# kill trial saw a target's mesh move by 0.002 between two evaluations of the same weights on a loaded machine).
# Set before torch loads MKL; a value the user set wins.
os.environ.setdefault("MKL_DYNAMIC", "FALSE")
os.environ.setdefault("OMP_DYNAMIC", "FALSE")


def __getattr__(name: str):
    """`hypershape.load_field`, imported on first use: `import hypershape` (what status and the records
    tools do) must not pay for torch."""
    if name == "load_field":
        from .export import load_field

        return load_field
    raise AttributeError(f"module 'hypershape' has no attribute {name!r}")
