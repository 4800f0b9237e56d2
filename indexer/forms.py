import os

from django import forms
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.utils.text import get_valid_filename

from .models import Candidacy

REQUIREMENTS_MAX_BYTES = 16 * 1024


def _single_upload(form, field: str):
    uploads = form.files.getlist(field) if form.files else []
    if len(uploads) > 1:
        raise ValidationError("Upload one file here, not %(count)d.", code="one_file_only",
                              params={"count": len(uploads)})
    return form.cleaned_data.get(field)


class CandidacyForm(forms.ModelForm):
    """Be a Server: the card of the federation to list and the Client.py its clients will run."""

    client_file = forms.FileField(label="Client.py", help_text="The script people download to join (at most 256 KB).")
    requirements = forms.FileField(label="requirements.txt", required=False,
                                   help_text="Optional: the packages Client.py needs.")

    class Meta:
        model = Candidacy
        fields = [*Candidacy.CARD_FIELDS, "num_rounds", "min_clients"]
        labels = {"owner_contact": "Contact email"}
        widgets = {field: forms.Textarea(attrs={"rows": 3})
                   for field in ("description", "data_expected", "privacy_measures")}

    def clean_client_file(self) -> tuple[bytes, str]:
        """The script's bytes and a display name; the uploaded name is never used as a path."""
        upload = _single_upload(self, "client_file")
        if upload.size > settings.F2F_CLIENT_FILE_MAX_BYTES:
            raise ValidationError("Client.py must be at most %(limit)d KB.", code="too_large",
                                  params={"limit": settings.F2F_CLIENT_FILE_MAX_BYTES // 1024})
        content = upload.read()
        if not content:
            raise ValidationError("The file is empty.", code="empty")
        try:
            name = get_valid_filename(os.path.basename(upload.name.replace("\\", "/")))
        except SuspiciousFileOperation:  # nothing usable left of the name
            name = "Client.py"
        return content, name[:120]

    def clean_requirements(self) -> str:
        upload = _single_upload(self, "requirements")
        if upload is None:
            return ""
        if upload.size > REQUIREMENTS_MAX_BYTES:
            raise ValidationError("requirements.txt must be at most 16 KB.", code="too_large")
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("requirements.txt must be UTF-8 text.", code="not_text") from None
        if "\x00" in text:
            raise ValidationError("requirements.txt must be UTF-8 text.", code="not_text")
        return text
