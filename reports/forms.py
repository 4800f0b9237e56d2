from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404

from federations import selectors as catalog
from federations.models import Federation

from .models import Category, FaultReport, Priority


class ReportForm(forms.Form):
    """A problem with a federation, as anyone may report it."""

    federation = forms.CharField(
        max_length=300, help_text="The federation's name in its address (…/federations/<b>its-name</b>/), its "
                                  "number, or the address of its page.")
    category = forms.ChoiceField(choices=Category.choices)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL,
                                 help_text="How badly it hurts the people who join.")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), max_length=FaultReport._meta.get_field("description").max_length,
        help_text="What happened, when, and what you expected instead.")
    contact = forms.CharField(max_length=200, required=False,
                              help_text="Optional: an e-mail or handle, if the operators may ask you more.")

    def clean_federation(self) -> Federation:
        key = self.cleaned_data["federation"].strip()
        if "/" in key:  # the address of its page: the part after /federations/
            try:
                parts = [part for part in urlsplit(key).path.split("/") if part]
            except ValueError:  # not an address at all (an unclosed "[", say)
                parts = []
            key = parts[parts.index("federations") + 1] if "federations" in parts[:-1] else ""
        try:
            return catalog.federation_by_key(key)
        except Http404:
            raise ValidationError("No federation has that name or number.", code="unknown_federation") from None

    def clean_description(self) -> str:
        description = self.cleaned_data["description"].strip()
        if len(description) < 10:
            raise ValidationError("Describe the problem in a sentence or more.", code="too_short")
        return description
