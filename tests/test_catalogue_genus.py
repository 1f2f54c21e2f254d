"""The genus each procedural family promises survives 02's solid at its default resolution, at both ends of
every one of its ranges. A file of its own: the heaviest test of the catalogue, so that a second pytest-xdist
worker can run the rest of tests/test_catalogue.py beside it (--dist loadscope keeps a file on one worker)."""

import pytest
from conftest import make_cfg

from hypershape.geometry.solid import make_solid
from hypershape.geometry.topology import topology
from hypershape.sources import procedural

FAMILIES = list(procedural.FAMILIES)


class Corner:
    """A stand-in for procedural.Draw that takes the same end of every range: a family's extreme instance."""

    def __init__(self, high: bool):
        self.high = high

    def real(self, lo, hi):
        return hi if self.high else lo

    def count(self, lo, hi):
        return hi if self.high else lo

    def pick(self, options):
        return options[-1] if self.high else options[0]

    def chance(self, p):
        return self.high


def corner(family: str, high: bool) -> procedural.Solid:
    genus, params = procedural.FAMILIES[family][0](Corner(high))
    return procedural.Solid(f"{family}_{'high' if high else 'low'}", family, genus, params)


@pytest.mark.slow  # 02's winding numbers on 128^3 points: 4-41 s a family on 2 busy cores, ~5 min in all
@pytest.mark.parametrize("family", FAMILIES)
def test_the_genus_each_family_promises_survives_02s_solid_at_its_default_resolution(family):
    """Both extreme instances of the family (every range at its low end, then at its high end), through
    the functions 02 uses at data.solid_resolution's default (128)."""
    resolution = make_cfg().data.solid_resolution
    assert resolution == 128
    for high in (False, True):
        s = corner(family, high)
        raw = procedural.build(s)
        assert raw.is_watertight and raw.body_count == 1 and topology(raw)["genus"] == [s.genus], s
        topo = topology(make_solid(raw, resolution))
        # one component of the promised genus (a tetrahedron's sharp tips leave specks < 1% of the area,
        # which 02's topology filters as 90's genus score does)
        assert topo["genus"] == [s.genus], (s, topo["genus"], topo["components"])
