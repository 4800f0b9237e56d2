import hashlib

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from federations.models import ClientFile


def test_operators_list_search_and_open_federations(admin_client, make_federation):
    federation = make_federation(name="Lisbon Fraud detection")
    make_federation(name="Rio Chest X-ray triage")

    listing = admin_client.get(reverse("admin:federations_federation_changelist"), {"q": "fraud"}).content.decode()
    assert "Lisbon Fraud detection" in listing and "Rio Chest" not in listing
    assert admin_client.get(reverse("admin:federations_federation_change", args=[federation.pk])).status_code == 200
    assert admin_client.get(reverse("admin:federations_federation_changelist"), {"live__status__exact": "online"}).status_code == 200


def test_operators_upload_a_client_file_and_read_its_source(admin_client, db):
    content = b"import flwr\nprint('<hello>')\n"
    response = admin_client.post(
        reverse("admin:federations_clientfile_add"), {"upload": SimpleUploadedFile("Client.py", content)}
    )
    client_file = ClientFile.objects.get()
    assert response.status_code == 302
    assert client_file.sha256 == hashlib.sha256(content).hexdigest()

    page = admin_client.get(reverse("admin:federations_clientfile_change", args=[client_file.pk])).content.decode()
    assert "print(&#x27;&lt;hello&gt;&#x27;)" in page
    listing = admin_client.get(reverse("admin:federations_clientfile_changelist")).content.decode()
    assert client_file.sha256 in listing


def test_operators_rotate_and_revoke_reporting_tokens(admin_client, federation):
    from federations import services

    changelist = reverse("admin:federations_federation_changelist")
    response = admin_client.post(changelist, {"action": "rotate_reporting_token", "_selected_action": [federation.pk]},
                                 follow=True)
    page = response.content.decode()
    token = page.split("shown only now: ")[1].split("<")[0].strip()
    assert services.reporting_token_authenticate(federation_id=federation.pk, token=token) is not None
    assert admin_client.get(reverse("admin:federations_federation_change", args=[federation.pk])).status_code == 200

    admin_client.post(changelist, {"action": "revoke_reporting_tokens", "_selected_action": [federation.pk]})
    assert services.reporting_token_authenticate(federation_id=federation.pk, token=token) is None
