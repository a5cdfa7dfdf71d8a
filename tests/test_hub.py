"""Hugging Face hub failures become one actionable line, the same way for every GPU-tier backend
(vtxlib.hub); nothing here contacts the hub: the errors are built locally."""

import errno

import httpx
import pytest
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
)

from vtxlib.errors import BackendUnavailable, InputError
from vtxlib.hub import hub_errors

URL = "https://huggingface.co/org/model/resolve/main/config.yaml"


def answer(status: int) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", URL))


def raised(error: Exception, **kwargs) -> Exception:
    with pytest.raises(Exception) as caught:
        with hub_errors("org/model", "--asr whisper-cpu", **kwargs):
            raise error
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.mark.parametrize("error", [GatedRepoError("403 gated", response=answer(403)),
                                   HfHubHTTPError("401 Client Error", response=answer(401)),
                                   HfHubHTTPError("403 Client Error", response=answer(403))],
                         ids=["gated", "401", "403"])
def test_refused_access_says_which_page_to_accept_and_to_set_the_token(error):
    message = str(raised(error))
    assert "https://huggingface.co/org/model" in message and "HF_TOKEN" in message
    statuses = []
    custom = raised(error, refused=lambda status: statuses.append(status) or InputError("refused"))
    assert isinstance(custom, InputError) and statuses == [getattr(error.response, "status_code", None)
                                                           if not isinstance(error, GatedRepoError) else None]


@pytest.mark.parametrize("error", [OfflineModeIsEnabled("offline mode"), LocalEntryNotFoundError("not cached")])
def test_offline_names_the_model_the_cache_and_the_alternative(error, tmp_path):
    message = str(raised(error, what="the NeMo model org/model", cache_dir=tmp_path))
    assert isinstance(raised(error), BackendUnavailable)
    assert message.startswith("cannot download the NeMo model org/model: offline")
    assert str(tmp_path) in message and "--asr whisper-cpu" in message


def test_unknown_model_and_other_http_failures():
    assert "no model named 'org/model'" in str(raised(RepositoryNotFoundError("404", response=answer(404))))
    assert "listed" in str(raised(RepositoryNotFoundError("404", response=answer(404)),
                                  not_found=lambda: BackendUnavailable("listed")))
    assert "failed" in str(raised(HfHubHTTPError("500 Server Error", response=answer(500))))


def test_other_os_errors_are_a_connection_problem_only_when_asked():
    unreachable = OSError(errno.ENETUNREACH, "Network is unreachable")
    assert "cannot reach huggingface.co" in str(raised(unreachable))
    missing = FileNotFoundError(errno.ENOENT, "No such file", "/models/local")
    assert raised(missing, network_errors=False) is missing


def test_nemo_says_how_to_get_access_to_a_gated_model(monkeypatch, tmp_path):
    """A 401/403 from the hub is a token/conditions problem, not a failed download."""
    import huggingface_hub

    from vtxlib import gpu
    from vtxlib.asr.nemo import NemoAsr, NemoAsrOptions

    def unauthorized(*args, **kwargs):
        raise HfHubHTTPError("401 Client Error: Unauthorized", response=answer(401))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unauthorized)
    monkeypatch.setattr(gpu, "hf_offline_reason", lambda: None)  # the hub answers (with a 401)
    with pytest.raises(BackendUnavailable) as info:
        NemoAsr(NemoAsrOptions(model="nvidia/private-model"), cache_dir=tmp_path).model
    assert "https://huggingface.co/nvidia/private-model" in str(info.value) and "HF_TOKEN" in str(info.value)
