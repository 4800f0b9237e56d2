from django import forms

from .models import Category
from .selectors import DEFAULT_SORT, Position

SELECT = {"class": "form-select"}
SORT_CHOICES = [("newest", "Newest"), ("downloads", "Most downloaded"), ("active", "Most active")]


class CatalogFilterForm(forms.Form):
    """The catalog's search box, filters and sort, read from the query string."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    category = forms.ChoiceField(
        required=False, choices=[("", "All categories"), *Category.choices], widget=forms.Select(attrs=SELECT)
    )
    application = forms.ChoiceField(required=False, widget=forms.Select(attrs=SELECT))
    online = forms.BooleanField(required=False, label="Online only")
    wanted = forms.BooleanField(required=False, label="Participants wanted")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, widget=forms.Select(attrs=SELECT))
    # Where the page starts (after a federation) or ends (before one), as the catalog's page links write it.
    after = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, applications: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].choices = [("", "All applications"), *((a, a) for a in applications)]

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or DEFAULT_SORT

    def clean_after(self) -> Position | None:
        return self._position("after")

    def clean_before(self) -> Position | None:
        return self._position("before")

    def _position(self, name: str) -> Position | None:
        text = self.cleaned_data[name]
        if not text:
            return None
        try:
            return Position.parse(text)
        except ValueError:
            raise forms.ValidationError("This page link is not one the catalog wrote.", code="bad_position") from None

    def clean(self):
        data = super().clean()
        if data.get("after") and data.get("before"):  # no link of ours carries both
            del data["after"], data["before"]
            raise forms.ValidationError("A page starts after a federation or ends before one.", code="two_positions")
        return data

    def position(self) -> dict:
        """Where the page starts or ends (``catalog_page``'s keyword arguments); a bad link gives the first page."""
        self.is_valid()
        return {"after": self.cleaned_data.get("after"), "before": self.cleaned_data.get("before")}

    def filters(self) -> dict:
        """The selector's keyword arguments; an invalid field is dropped rather than failing the page."""
        self.is_valid()  # a field that does not validate is absent from cleaned_data: it filters nothing
        data = self.cleaned_data
        return {
            "query": data.get("q", ""),
            "category": data.get("category", ""),
            "application": data.get("application", ""),
            "online_only": data.get("online", False),
            "wanted_only": data.get("wanted", False),
            "sort": data.get("sort") or DEFAULT_SORT,
        }

    @property
    def is_filtered(self) -> bool:
        filters = self.filters()
        return bool(filters["query"] or filters["category"] or filters["application"] or filters["online_only"]
                    or filters["wanted_only"])
