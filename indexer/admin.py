import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.template.response import TemplateResponse

from . import services
from .models import Candidacy, Decision

class DecisionInline(admin.TabularInline):
    model = Decision
    fields = ["action", "actor", "at", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
                             help_text="Shown to the candidate and kept with the decision.")


def source_lines(content: bytes) -> list[str]:
    """The file's lines as Python numbers them: only \\n, \\r\\n and \\r end a line (not \\f or U+2028)."""
    return re.split(r"\r\n|\r|\n", content.decode("utf-8", errors="replace"))


def review_items(report: dict | None) -> list[dict]:
    """Errors then findings of a stored report, each with its anchor ("L12", or "" for the whole file)."""
    items = [*(report or {}).get("errors", []), *(report or {}).get("findings", [])]
    return [{**item, "anchor": f"L{item['line']}" if item.get("line") else ""} for item in items]


def numbered_source(content: bytes, items: list[dict]) -> list[dict]:
    """Every line of the file with its number and the rules reported on it, for the reviewer's listing."""
    rules_at: dict[int, list[str]] = {}
    for item in items:
        rules_at.setdefault(item["line"], []).append(item["rule"])
    return [{"number": number, "text": text, "rules": rules_at.get(number, [])}
            for number, text in enumerate(source_lines(content), start=1)]


@admin.register(Candidacy)
class CandidacyAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "verdict", "finding_count", "server_address", "owner_contact", "created_at"]
    list_filter = ["status", "verdict", "category", "flower_api", "created_at"]
    search_fields = ["name", "owner_contact", "server_address", "client_sha256"]
    actions = ["approve", "decline"]
    inlines = [DecisionInline]
    readonly_fields = ["status", "verdict", "finding_count", "validation_report", "client_filename", "client_sha256",
                       "client_size", "requirements_txt", "client_source", "federation", "created_at", "updated_at",
                       *Candidacy.CARD_FIELDS, "num_rounds", "min_clients"]
    fieldsets = [
        ("Review", {"fields": ["status", "verdict", "finding_count", "validation_report", "federation"]}),
        ("Client.py", {"fields": ["client_filename", "client_sha256", "client_size", "requirements_txt", "client_source"]}),
        ("Card", {"fields": [*Candidacy.CARD_FIELDS, "num_rounds", "min_clients"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("client_content")

    def has_add_permission(self, request):
        return False  # candidacies come from the public form

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)  # decisions go through the actions

    @admin.display(description="validation report")
    def validation_report(self, candidacy):
        if candidacy.report is None:
            return "Not validated yet."
        return render_to_string("admin/indexer/report.html", {
            "candidacy": candidacy, "items": review_items(candidacy.report)})

    @admin.display(description="size")
    def client_size(self, candidacy):
        return f"{len(candidacy.client_content):,} bytes"

    @admin.display(description="source (the exact bytes served)")
    def client_source(self, candidacy):
        content = bytes(candidacy.client_content)
        return render_to_string("admin/indexer/source.html", {
            "lines": numbered_source(content, review_items(candidacy.report))})

    def _decide(self, request, queryset, service, verb):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for candidacy in queryset:
                try:
                    service(candidacy_id=candidacy.pk, actor=request.user, reason=form.cleaned_data["reason"])
                except ValidationError as error:
                    self.message_user(request, f"{candidacy.name}: {' '.join(error.messages)}", messages.ERROR)
                else:
                    self.message_user(request, f"{candidacy.name}: {verb}.", messages.SUCCESS)
            return None
        return TemplateResponse(request, "admin/indexer/decide.html", {
            **self.admin_site.each_context(request), "title": f"{verb.capitalize()} candidacies",
            "form": form, "candidacies": queryset.defer(None), "action": request.POST["action"], "verb": verb,
            "opts": self.model._meta,
        })

    @admin.action(description="Approve selected candidacies (list them, issue tokens)", permissions=["change"])
    def approve(self, request, queryset):
        return self._decide(request, queryset, services.candidacy_approve, "approved")

    @admin.action(description="Decline selected candidacies", permissions=["change"])
    def decline(self, request, queryset):
        return self._decide(request, queryset, services.candidacy_decline, "declined")
