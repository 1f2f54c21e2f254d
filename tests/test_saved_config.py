"""A stage's saved config.yaml, read back by the upstream check and readout_from, over the schema: a run
made before a setting existed is read with that setting's default instead of failing on the missing key."""

from conftest import make_cfg
from omegaconf import OmegaConf

from hypershape.settings import made_config
from hypershape.stage_specs import refine_config


def test_a_setting_added_since_reads_as_its_default_and_a_removed_one_as_saved(tmp_path):
    cfg = make_cfg("preset=tiny", "mapper=decoder", "decoder.latent=12")
    saved = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    del saved["decoder"]["start"]  # as written before decoder.start existed
    path = tmp_path / "config.yaml"
    path.write_text(OmegaConf.to_yaml(saved))
    assert "start" not in OmegaConf.load(path).decoder
    made = made_config(path)
    assert made.decoder.start.value == "readout" and made.decoder.latent == 12  # default; saved value kept
    assert refine_config(made) == refine_config(cfg)  # 80's key reads the same as under today's default
    saved["decoder"]["gone"] = 1  # a setting the schema no longer has: read as saved
    path.write_text(OmegaConf.to_yaml(saved))
    assert made_config(path).decoder.gone == 1
