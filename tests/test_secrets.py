"""Where secrets come from (values are never logged)."""

import logging

from vtxlib.secrets import ALIASES, get_secret


def _clear(monkeypatch, login_token_file):
    """No secret in the environment; the hub's login token file is LOGIN_TOKEN_FILE."""
    from huggingface_hub import constants

    for alias in {a for names in ALIASES.values() for a in names}:
        monkeypatch.delenv(alias, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(login_token_file))  # read at import otherwise


def test_hf_token_from_a_huggingface_cli_login(tmp_path, monkeypatch, caplog):
    _clear(monkeypatch, tmp_path / "hf" / "token")
    assert get_secret("HF_TOKEN") is None
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "token").write_text("hf_login_token_123\n")
    with caplog.at_level(logging.DEBUG, logger="vtxlib.secrets"):
        assert get_secret("HF_TOKEN") == "hf_login_token_123"
    assert "hf_login_token_123" not in caplog.text and "login" in caplog.text
    assert get_secret("GEMINI_API_KEY") is None  # the hub login is for Hugging Face only


def test_environment_and_workspace_file_come_first(tmp_path, monkeypatch):
    _clear(monkeypatch, tmp_path / "hf" / "token")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "token").write_text("from-login")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "HF_TOKEN").write_text("from-file\n")
    assert get_secret("HF_TOKEN", tmp_path / "secrets") == "from-file"
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "from-env")
    assert get_secret("HF_TOKEN", tmp_path / "secrets") == "from-env"
