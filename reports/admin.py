from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from . import services
from .models import Action, FaultReport, ModerationAction, ReportStatus


class WhyForm(forms.Form):
    why = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
                          help_text="Kept with your name and the time. A reason for a federation's standing is "
                                    "shown on its page; a note on a report is not.")


def ask_why(modeladmin, request, queryset, *, verb: str, apply) -> TemplateResponse | None:
    """An admin action that needs a reason: a page asking for it, then ``apply(queryset, why)``."""
    form = WhyForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        apply(queryset, form.cleaned_data["why"])
        return None
    return TemplateResponse(request, "admin/reports/why.html", {
        **modeladmin.admin_site.each_context(request), "title": f"To be {verb}", "form": form, "verb": verb,
        "items": list(queryset), "action": request.POST["action"], "opts": modeladmin.model._meta,
    })


@admin.register(FaultReport)
class FaultReportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "federation", "category", "priority", "status", "handled_by"]
    list_filter = ["status", "category", "priority", "created_at"]
    list_select_related = ["federation", "handled_by"]
    search_fields = ["federation__name", "federation__slug", "description", "contact"]
    raw_id_fields = ["federation"]
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    readonly_fields = ["federation", "category", "priority", "description", "contact", "reporter", "status", "note",
                       "created_at", "handled_at", "handled_by"]
    fields = readonly_fields
    actions = ["start_review", "resolve", "dismiss"]

    def has_add_permission(self, request):
        return False  # reports come from the public form

    def has_delete_permission(self, request, obj=None):
        return False  # a report is a record: it is dismissed with a reason, through reports.services

    def _move(self, request, queryset, status, note=""):
        moved = services.reports_move(report_ids=queryset.values_list("pk", flat=True), status=status, note=note,
                                      actor=request.user)
        skipped = queryset.count() - moved
        self.message_user(request, f"{moved} report(s) {ReportStatus(status).label.lower()}"
                                   + (f"; {skipped} could not move there from their status." if skipped else "."),
                          messages.SUCCESS if moved else messages.WARNING)

    @admin.action(description="Start reviewing the selected reports", permissions=["change"])
    def start_review(self, request, queryset):
        self._move(request, queryset, ReportStatus.REVIEWING)

    def _close(self, request, queryset, status):
        return ask_why(self, request, queryset, verb=ReportStatus(status).label.lower(),
                       apply=lambda reports, why: self._move(request, reports, status, why))

    @admin.action(description="Resolve the selected reports (with a note)", permissions=["change"])
    def resolve(self, request, queryset):
        return self._close(request, queryset, ReportStatus.RESOLVED)

    @admin.action(description="Dismiss the selected reports (with a note)", permissions=["change"])
    def dismiss(self, request, queryset):
        return self._close(request, queryset, ReportStatus.DISMISSED)


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """The record of what was done to federations' standing: read only (actions are taken on the federations)."""

    list_display = ["created_at", "federation", "action", "actor", "reason"]
    list_filter = ["action", "created_at"]
    list_select_related = ["federation", "actor"]
    search_fields = ["federation__name", "federation__slug", "reason"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def moderate(action: str):
    """A federation admin action that changes its standing (reports.services.federation_moderate)."""
    verb = Action(action).label.lower()

    def run(modeladmin, request, queryset):
        def apply(federations, why):
            for federation in federations:
                try:
                    done = services.federation_moderate(federation=federation, action=action, reason=why,
                                                        actor=request.user)
                except ValidationError as error:
                    modeladmin.message_user(request, f"{federation}: {' '.join(error.messages)}", messages.ERROR)
                else:
                    modeladmin.message_user(request, f"{federation}: {verb if done else 'nothing to do (already so)'}.",
                                            messages.SUCCESS if done else messages.WARNING)

        return ask_why(modeladmin, request, queryset, verb=verb, apply=apply)

    run.__name__ = f"moderate_{action}"
    return admin.action(description=f"{Action(action).label} (with a reason)", permissions=["change"])(run)
