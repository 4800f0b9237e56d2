from django import forms

from .models import Category
from .selectors import DEFAULT_SORT

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
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, widget=forms.Select(attrs=SELECT))

    def __init__(self, *args, applications: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["application"].choices = [("", "All applications"), *((a, a) for a in applications)]

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or DEFAULT_SORT

    def filters(self) -> dict:
        """The selector's keyword arguments; an invalid field is dropped rather than failing the page."""
        self.is_valid()  # a field that does not validate is absent from cleaned_data: it filters nothing
        data = self.cleaned_data
        return {
            "query": data.get("q", ""),
            "category": data.get("category", ""),
            "application": data.get("application", ""),
            "online_only": data.get("online", False),
            "sort": data.get("sort") or DEFAULT_SORT,
        }

    @property
    def is_filtered(self) -> bool:
        filters = self.filters()
        return bool(filters["query"] or filters["category"] or filters["application"] or filters["online_only"])
