import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from indexer import services
from indexer.models import Candidacy
from indexer.tests.conftest import corpus_file

FORM_URL = "/be-a-server/"


def form_data(card, **overrides):
    return {**card, "num_rounds": 20, "min_clients": 2, **overrides}


def upload(content=None, name="Client.py"):
    return SimpleUploadedFile(name, content if content is not None else corpus_file("clean_legacy.txt"))


def test_the_form_is_public(client, db):
    page = client.get(FORM_URL).content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="client_file"' in page and 'name="server_address"' in page


def test_a_valid_candidacy_goes_to_its_private_status_page(client, db, card):
    response = client.post(FORM_URL, {**form_data(card), "client_file": upload()})
    candidacy = Candidacy.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("indexer:status", args=[candidacy.access_key])
    assert len(candidacy.access_key) >= 32
    assert candidacy.status == "submitted" and candidacy.client_filename == "Client.py"
    page = client.get(response["Location"]).content.decode()
    assert "Submitted" in page and 'http-equiv="refresh"' in page


@pytest.mark.parametrize(("overrides", "field"), [
    ({"server_address": "evil; rm -rf /"}, "server_address"),
    ({"owner_contact": "not-an-email"}, "owner_contact"),
    ({"num_rounds": 0}, "num_rounds"),
    ({"flower_version": "latest"}, "flower_version"),
    ({"name": ""}, "name"),
])
def test_bad_fields_are_shown_and_nothing_is_stored(client, db, card, overrides, field):
    response = client.post(FORM_URL, {**form_data(card, **overrides), "client_file": upload()})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert f'id="error_1_id_{field}"' in response.content.decode()
    assert not Candidacy.objects.exists()


def test_a_client_file_over_the_limit_is_a_field_error(client, db, card, settings):
    settings.F2F_CLIENT_FILE_MAX_BYTES = 1024
    response = client.post(FORM_URL, {**form_data(card), "client_file": upload(b"#" * 2048)})
    assert response.context["form"].errors["client_file"] == ["Client.py must be at most 1 KB."]
    assert not Candidacy.objects.exists()


def test_one_file_per_field(client, db, card):
    response = client.post(FORM_URL, {**form_data(card), "client_file": [upload(), upload(name="Other.py")]})
    assert "Upload one file here, not 2." in response.context["form"].errors["client_file"]
    assert not Candidacy.objects.exists()


def test_the_uploaded_name_is_never_a_path(client, db, card, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client.post(FORM_URL, {**form_data(card), "client_file": upload(name="../../x.py")})
    assert Candidacy.objects.get().client_filename == "x.py"
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent.parent / "x.py").exists()


@pytest.mark.parametrize("content", [b"\xff\xfe\x00", b"flwr==1.42.0\x00\n"])
def test_requirements_must_be_text(client, db, card, content):
    bad = SimpleUploadedFile("requirements.txt", content)
    response = client.post(FORM_URL, {**form_data(card), "client_file": upload(), "requirements": bad})
    assert response.context["form"].errors["requirements"] == ["requirements.txt must be UTF-8 text."]
    assert not Candidacy.objects.exists()


@pytest.mark.parametrize("name", ["@@", " ", "#!"])
def test_an_unusable_upload_name_becomes_client_py(client, db, card, name):
    response = client.post(FORM_URL, {**form_data(card), "client_file": upload(name=name)})
    assert response.status_code == 302
    assert Candidacy.objects.get().client_filename == "Client.py"


def test_a_broker_that_is_down_does_not_lose_the_candidacy(client, card, transactional_db, monkeypatch):
    from kombu.exceptions import OperationalError

    from indexer import tasks

    def down(*args, **kwargs):
        raise OperationalError("broker unreachable")

    monkeypatch.setattr(tasks.validate_candidacy, "delay", down)
    response = client.post(FORM_URL, {**form_data(card), "client_file": upload()})
    assert response.status_code == 302  # the candidate gets the link; the stalled sweep queues it later
    assert Candidacy.objects.get().status == "submitted"


def test_the_status_page_shows_the_report_and_the_token_only_once(client, db, card, admin_user):
    candidacy = services.candidacy_submit(card=card, num_rounds=5, min_clients=2, client_filename="Client.py",
                                          client_content=corpus_file("os_system.txt"))
    services.candidacy_validate(candidacy_id=candidacy.pk)
    url = reverse("indexer:status", args=[candidacy.access_key])
    page = client.get(url).content.decode()
    assert "Awaiting review" in page and "F2F-EXEC-001" in page and 'http-equiv="refresh"' not in page

    services.candidacy_approve(candidacy_id=candidacy.pk, actor=admin_user, reason="Shell use is the backup job.")
    preview = client.get(url)  # a link preview or a scanner opening the page uses up nothing
    assert preview["Cache-Control"] == "no-store" and preview["Referrer-Policy"] == "same-origin"
    assert "Shell use is the backup job." in preview.content.decode()
    assert 'data-testid="reveal-token"' in preview.content.decode() and "f2f_" not in preview.content.decode()
    assert 'data-testid="reveal-token"' in client.get(url).content.decode()

    revealed = client.post(url).content.decode()
    assert 'data-testid="token">f2f_' in revealed
    again = client.post(url).content.decode()
    assert 'data-testid="token"' not in again and 'data-testid="reveal-token"' not in again


def test_unknown_status_links_are_404(client, db):
    assert client.get("/be-a-server/not-a-real-key/").status_code == 404


def test_the_status_page_never_calls_a_script_clean_or_safe(client, db, card):
    import re

    candidacy = services.candidacy_submit(card=card, num_rounds=5, min_clients=2, client_filename="Client.py",
                                          client_content=corpus_file("clean_legacy.txt"))
    services.candidacy_validate(candidacy_id=candidacy.pk)
    page = client.get(reverse("indexer:status", args=[candidacy.access_key])).content.decode()
    shown = re.sub(r"<[^>]*>", " ", page)
    assert "no known-dangerous pattern" in shown and not re.search(r"\b(clean|safe)\b", shown, re.IGNORECASE)
